/**
 * Block hashes on worker threads, for flash: every block written is hashed, and hashed again when read back.
 * XXH64 (WebAssembly, hash-wasm): a checksum for catching corruption, not a cryptographic hash, as Etcher uses;
 * measured here at ~7–9 GiB/s against ~4–5 for zlib's CRC-32, which matters because on a fast target the read-back
 * is bound by hashing (a loop device reads back at ~4 GiB/s on the 2-core CI box).
 *
 * Buffers from alignedBuffer(…, { shared: true }) live in a SharedArrayBuffer, so the workers read them in place
 * (no transfer) while the main thread writes the same bytes to the card. A block is hashed as segments spread
 * over the workers: the read-back waits for a block's hash before its buffer takes the next read, so halving the
 * hash latency shortens that pass. Any other buffer, or workers that cannot start, are hashed inline: the
 * result is the same, only slower.
 */
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { createXXHash64, type IHasher } from 'hash-wasm';

interface Pending {
  resolve: (hash: string) => void;
  reject: (error: Error) => void;
}

export class BlockHasher {
  private workers: Worker[] = [];
  private nextWorker = 0;
  private nextId = 0;
  private readonly pending = new Map<number, Pending>();
  private failure: Error | null = null;
  private inline: Promise<IHasher> | null = null;

  constructor(workerCount = Math.min(2, availableParallelism())) {
    try {
      for (let i = 0; i < workerCount; i++) this.workers.push(this.startWorker());
    } catch {
      void this.close();
      this.failure = null; // inline hashing instead
    }
  }

  private startWorker(): Worker {
    const worker = new Worker(join(__dirname, 'hash-worker.js'));
    worker.unref();
    worker.on('message', (m: { id: number; hash?: string; error?: string }) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.error !== undefined || m.hash === undefined) p.reject(new Error(`hash worker: ${m.error}`));
      else p.resolve(m.hash);
    });
    worker.on('error', (error) => this.broken(error));
    worker.on('exit', (code) => {
      if (this.workers.includes(worker)) this.broken(new Error(`hash worker exited (${code})`));
    });
    return worker;
  }

  private broken(error: Error): void {
    this.failure = error;
    void this.close();
  }

  /**
   * The hash of each `segment`-byte piece of buffer[0, length) (the last one may be shorter), hashed in
   * parallel. The caller must not change those bytes until the promise settles.
   */
  hashSegments(buffer: Buffer, length: number, segment: number): Promise<string[]> {
    const parts: Array<Promise<string>> = [];
    for (let at = 0; at < length; at += segment) {
      parts.push(this.hash(buffer.subarray(at), Math.min(segment, length - at)));
    }
    return Promise.all(parts);
  }

  /** XXH64 of buffer[0, length), hex. The caller must not change those bytes until the promise settles. */
  hash(buffer: Buffer, length: number): Promise<string> {
    const memory = buffer.buffer;
    if (this.failure) return Promise.reject(this.failure);
    if (this.workers.length === 0 || !(memory instanceof SharedArrayBuffer)) {
      this.inline ??= createXXHash64();
      return this.inline.then((h) => {
        h.init();
        h.update(buffer.subarray(0, length));
        return h.digest('hex');
      });
    }
    const worker = this.workers[this.nextWorker++ % this.workers.length]!;
    const id = this.nextId++;
    return new Promise<string>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ id, memory, offset: buffer.byteOffset, length });
    });
  }

  async close(): Promise<void> {
    const workers = this.workers;
    this.workers = [];
    const error = this.failure ?? new Error('hash pool closed');
    for (const p of this.pending.values()) p.reject(error);
    this.pending.clear();
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
