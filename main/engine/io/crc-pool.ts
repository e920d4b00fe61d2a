/**
 * CRC-32 on a worker thread. Flash hashes every block it writes and reads back; on the main thread that
 * competes with the event loop that keeps the device busy (measured: ~0.27 s per GiB on the 2-core CI box,
 * a tenth of a loop-device write). Buffers from sharedBuffer() live in a SharedArrayBuffer, so the worker reads
 * them in place (no copy, no transfer) while the main thread writes the same bytes to the card. Any other
 * buffer, or a worker that cannot start, is hashed inline: the result is the same, only slower.
 */
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';

interface Pending {
  resolve: (crc: number) => void;
  reject: (error: Error) => void;
}

export class Crc32Pool {
  private worker: Worker | null;
  private nextId = 0;
  private readonly pending = new Map<number, Pending>();
  private failure: Error | null = null;

  constructor() {
    try {
      this.worker = new Worker(join(__dirname, 'crc-worker.js'));
    } catch {
      this.worker = null;
      return;
    }
    this.worker.unref();
    this.worker.on('message', (m: { id: number; crc?: number; error?: string }) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.error !== undefined || m.crc === undefined) p.reject(new Error(`crc32 worker: ${m.error}`));
      else p.resolve(m.crc);
    });
    const broken = (error: Error): void => {
      this.failure = error;
      this.worker = null;
      for (const p of this.pending.values()) p.reject(error);
      this.pending.clear();
    };
    this.worker.on('error', broken);
    this.worker.on('exit', (code) => {
      if (this.pending.size > 0 || this.worker) broken(new Error(`crc32 worker exited (${code})`));
    });
  }

  /** CRC-32 of buffer[0, length). The caller must not change those bytes until the promise settles. */
  crc(buffer: Buffer, length: number): Promise<number> {
    const memory = buffer.buffer;
    if (this.failure) return Promise.reject(this.failure);
    if (!this.worker || !(memory instanceof SharedArrayBuffer)) {
      return Promise.resolve(crc32(buffer.subarray(0, length)));
    }
    const id = this.nextId++;
    return new Promise<number>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker!.postMessage({ id, memory, offset: buffer.byteOffset, length });
    });
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = null;
    for (const p of this.pending.values()) p.reject(new Error('crc32 pool closed'));
    this.pending.clear();
    if (worker) await worker.terminate();
  }
}
