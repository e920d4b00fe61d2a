/**
 * Block hashes, for flash and restore: every block written is hashed, and hashed again when read back. XXH3-64:
 * a checksum for catching corruption, not a cryptographic hash (Etcher uses XXH64); on a fast target the
 * read-back is bound by hashing (a loop device reads back at ~4 GiB/s on the 2-core CI box), so it must be fast.
 * The hashes live only for the job that takes them, so the algorithm is this module's choice alone.
 *
 * Where the engine's addon is built (addon.ts, always in the app and the tests), the hash is its C XXH3 (AVX2
 * where the CPU has it: ~40 GB/s on one core of the CI box, against 12 for XXH64), reading the bytes in place, on
 * libuv's thread pool or, for a read-back, at once on the calling thread. Without it, hash-wasm's XXH3 (a copy of
 * every byte into wasm memory first) on worker threads: buffers from alignedBuffer(…, { shared: true }) live in a SharedArrayBuffer,
 * so the workers read them in place while the main thread writes the same bytes to the card, a block hashed as
 * segments spread over the workers; any other buffer, or workers that cannot start, are hashed inline. The
 * result is the same value every way (the tests compare them).
 */
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { createXXHash3, type IHasher } from 'hash-wasm';
import { loadAddon, type Addon } from './addon';

interface Pending {
  resolve: (hash: string) => void;
  reject: (error: Error) => void;
}

/** XXH3-64 of no bytes (the addon returns no segment for them) */
const EMPTY = '2d06800538d394c2';

export class BlockHasher {
  private workers: Worker[] = [];
  private nextWorker = 0;
  private nextId = 0;
  private readonly pending = new Map<number, Pending>();
  private failure: Error | null = null;
  private inline: Promise<IHasher> | null = null;
  private readonly native: Addon | null;

  /**
   * `workerCount`: wasm hashing threads, used only without the addon (0: inline). `native: false` is for the
   * tests that compare the ways of hashing.
   */
  constructor(workerCount = Math.min(2, availableParallelism()), options: { native?: boolean } = {}) {
    this.native = options.native === false ? null : loadAddon();
    if (this.native) return;
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
   * parallel. The caller must not change those bytes until the promise settles. `now`: with the addon, hashed
   * on this thread at once (~40 GB/s: 25 µs for 1 MiB), for a read-back that waits for each hash before its
   * buffer takes the next read: on libuv's threads the hash would queue behind the reads in flight.
   */
  hashSegments(
    buffer: Buffer,
    length: number,
    segment: number,
    options: { now?: boolean } = {},
  ): Promise<string[]> {
    if (this.native) {
      if (options.now) return Promise.resolve(this.native.xxh3SegmentsSync(buffer, length, segment));
      return this.native.xxh3Segments(buffer, length, segment);
    }
    const parts: Array<Promise<string>> = [];
    for (let at = 0; at < length; at += segment) {
      parts.push(this.hash(buffer.subarray(at), Math.min(segment, length - at)));
    }
    return Promise.all(parts);
  }

  /**
   * With the addon: reads `length` bytes at `position` of `fd` into `buffer`, then hashes buffer[hashAt, hashAt +
   * hashLength) in `segment`s on the same libuv thread, while the bytes the kernel just copied are in that core's
   * cache (hashed later on the JS thread, they come back from memory: that bound the 4-card read-back). `hashes`
   * is empty when the read came back short. Null without the addon: the caller reads, then hashes.
   */
  readThenHash(
    fd: number,
    buffer: Buffer,
    read: { length: number; position: number },
    hash: { at: number; length: number; segment: number },
  ): Promise<{ bytesRead: number; hashes: string[] }> | null {
    if (!this.native) return null;
    return this.native.readHash(fd, buffer, read.length, read.position, hash.at, hash.length, hash.segment);
  }

  /** XXH3-64 of buffer[0, length), hex. The caller must not change those bytes until the promise settles. */
  hash(buffer: Buffer, length: number): Promise<string> {
    if (this.native)
      return this.native.xxh3Segments(buffer, length, Math.max(1, length)).then((h) => h[0] ?? EMPTY);
    const memory = buffer.buffer;
    if (this.failure) return Promise.reject(this.failure);
    if (this.workers.length === 0 || !(memory instanceof SharedArrayBuffer)) {
      this.inline ??= createXXHash3();
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
