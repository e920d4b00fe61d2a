/**
 * CRC-32 on worker threads. Flash hashes every block it writes and reads back; on the main thread that
 * competes with the event loop that keeps the device busy (~0.2 s per GiB on the 2-core CI box, most of a
 * loop-device read pass). Buffers from alignedBuffer(…, { shared: true }) live in a SharedArrayBuffer, so the
 * workers read them in place (no copy, no transfer) while the main thread writes the same bytes to the card.
 *
 * A block is hashed as segments spread over the workers: the verify pass waits for a block's hash before its
 * buffer takes the next read, so halving the hash latency shortens that pass (measured on the CI box: 0.32 s
 * instead of 0.37 s per GiB read back). Any other buffer, or workers that cannot start, are hashed inline:
 * the result is the same, only slower.
 */
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';

interface Pending {
  resolve: (crc: number) => void;
  reject: (error: Error) => void;
}

export class Crc32Pool {
  private workers: Worker[] = [];
  private nextWorker = 0;
  private nextId = 0;
  private readonly pending = new Map<number, Pending>();
  private failure: Error | null = null;

  constructor(workerCount = Math.min(2, availableParallelism())) {
    try {
      for (let i = 0; i < workerCount; i++) this.workers.push(this.startWorker());
    } catch {
      void this.close();
      this.failure = null; // inline hashing instead
    }
  }

  private startWorker(): Worker {
    const worker = new Worker(join(__dirname, 'crc-worker.js'));
    worker.unref();
    worker.on('message', (m: { id: number; crc?: number; error?: string }) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.error !== undefined || m.crc === undefined) p.reject(new Error(`crc32 worker: ${m.error}`));
      else p.resolve(m.crc);
    });
    worker.on('error', (error) => this.broken(error));
    worker.on('exit', (code) => {
      if (this.workers.includes(worker)) this.broken(new Error(`crc32 worker exited (${code})`));
    });
    return worker;
  }

  private broken(error: Error): void {
    this.failure = error;
    void this.close();
  }

  /**
   * CRC-32 of each `segment`-byte piece of buffer[0, length) (the last one may be shorter), hashed in parallel.
   * The caller must not change those bytes until the promise settles.
   */
  crcSegments(buffer: Buffer, length: number, segment: number): Promise<number[]> {
    const parts: Array<Promise<number>> = [];
    for (let at = 0; at < length; at += segment) {
      parts.push(this.crc(buffer.subarray(at), Math.min(segment, length - at)));
    }
    return Promise.all(parts);
  }

  /** CRC-32 of buffer[0, length). The caller must not change those bytes until the promise settles. */
  crc(buffer: Buffer, length: number): Promise<number> {
    const memory = buffer.buffer;
    if (this.failure) return Promise.reject(this.failure);
    if (this.workers.length === 0 || !(memory instanceof SharedArrayBuffer)) {
      return Promise.resolve(crc32(buffer.subarray(0, length)));
    }
    const worker = this.workers[this.nextWorker++ % this.workers.length]!;
    const id = this.nextId++;
    return new Promise<number>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ id, memory, offset: buffer.byteOffset, length });
    });
  }

  async close(): Promise<void> {
    const workers = this.workers;
    this.workers = [];
    const error = this.failure ?? new Error('crc32 pool closed');
    for (const p of this.pending.values()) p.reject(error);
    this.pending.clear();
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
