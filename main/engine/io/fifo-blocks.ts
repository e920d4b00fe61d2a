/**
 * A child process's output in whole blocks, read by a worker thread straight into shared buffers.
 *
 * Why: a decoder such as `xz -dc -T0` writes 8 KiB at a time. Taken as a Node stream, 1 GiB arrives as ~34,000
 * chunks, each a fresh Buffer, an event and a copy into the write buffer: measured 1.4 s of CPU (0.6 user, 0.85
 * system) on a 2-core machine where xz wants both cores, so the decoder itself slows down. A worker doing
 * blocking reads of a FIFO into the SharedArrayBuffer blocks the flash writes from costs what dd's reads cost.
 * (A libuv pipe is non-blocking, so the FIFO is made with mkfifo in a private folder instead.)
 */
import { constants, promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';
import { execFile } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { AtlasError, toAtlasError } from '../errors';
import { readAhead, type Block } from './direct';

const execFileAsync = promisify(execFile);

export type FifoRequest =
  { type: 'fill'; id: number; memory: SharedArrayBuffer; offset: number; length: number } | { type: 'close' };

export type FifoReply =
  | { type: 'open' }
  | { type: 'filled'; id: number; length: number }
  | { type: 'error'; id?: number; message: string; code?: string | undefined };

export interface FifoBlocks {
  /** The writing end: give its fd to the child's stdout, then close it here. */
  readonly writer: FileHandle;
  /**
   * Everything written, in blocks of the pool's buffer size, block k into pool[k % length], `ahead` fills
   * queued (same reuse rule as io/direct readBlocks). The pool must live in SharedArrayBuffers. A block shorter
   * than the buffer is the last one: every writer has closed its end.
   */
  blocks(
    pool: readonly Buffer[],
    options?: { ahead?: number; signal?: AbortSignal | undefined | undefined },
  ): AsyncGenerator<Block>;
  /** Ends the worker and removes the FIFO. Safe to call twice. */
  close(): Promise<void>;
}

/** Makes a FIFO in a private folder and opens both ends (the reading one in the worker). */
export async function openFifoBlocks(): Promise<FifoBlocks> {
  const dir = await fsp.mkdtemp(join(tmpdir(), 'atlas-fifo-'));
  const path = join(dir, 'out');
  let worker: Worker | null = null;
  try {
    // by full path: the elevated helper's PATH may be reset (same place on Linux and macOS)
    await execFileAsync('/usr/bin/mkfifo', ['-m', '600', path]);
    const started = new Worker(join(__dirname, 'fifo-blocks-worker.js'), { workerData: { path } });
    worker = started;
    const opened = new Promise<void>((resolve, reject) => {
      const onMessage = (m: FifoReply): void => {
        started.off('message', onMessage);
        if (m.type === 'open') resolve();
        else
          reject(
            new AtlasError(
              'IO_ERROR',
              `Cannot open the decoder's output: ${'message' in m ? m.message : ''}`,
            ),
          );
      };
      started.on('message', onMessage);
      started.once('error', reject);
      started.once('exit', (code) =>
        reject(new AtlasError('IO_ERROR', `The reader thread exited (${code}).`)),
      );
    });
    // each open waits for the other end: the worker's read and this write meet here
    const [writer] = await Promise.all([fsp.open(path, 'w'), opened]);
    return makeFifoBlocks(started, writer, dir);
  } catch (error) {
    // a worker still waiting in its open() for a writer would never end: give it one, then let it go
    await fsp
      .open(path, constants.O_WRONLY | constants.O_NONBLOCK)
      .then((handle) => handle.close())
      .catch(() => undefined);
    await worker?.terminate();
    await fsp.rm(dir, { recursive: true, force: true });
    throw toAtlasError(error, 'Cannot set up the decoder output');
  }
}

function makeFifoBlocks(worker: Worker, writer: FileHandle, dir: string): FifoBlocks {
  const pending = new Map<number, { resolve: (n: number) => void; reject: (e: Error) => void }>();
  let failure: Error | null = null;
  let closed = false;
  const failAll = (error: Error): void => {
    failure ??= error;
    for (const p of pending.values()) p.reject(failure);
    pending.clear();
  };
  worker.on('message', (m: FifoReply) => {
    if (m.type === 'filled') {
      pending.get(m.id)?.resolve(m.length);
      pending.delete(m.id);
    } else if (m.type === 'error') {
      failAll(
        new AtlasError('IO_ERROR', `Reading the decoder's output: ${m.message}`, { code: m.code ?? null }),
      );
    }
  });
  worker.on('error', (error) => failAll(error));
  worker.on('exit', (code) => {
    if (!closed) failAll(new AtlasError('IO_ERROR', `The reader thread exited (${code}).`));
  });
  let nextId = 0;
  const fill = (buffer: Buffer): Promise<number> => {
    if (failure) return Promise.reject(failure);
    if (!(buffer.buffer instanceof SharedArrayBuffer)) {
      return Promise.reject(new AtlasError('INTERNAL', 'FIFO blocks need buffers in a SharedArrayBuffer.'));
    }
    const id = nextId++;
    const filled = new Promise<number>((resolve, reject) => pending.set(id, { resolve, reject }));
    worker.postMessage({
      type: 'fill',
      id,
      memory: buffer.buffer,
      offset: buffer.byteOffset,
      length: buffer.length,
    } satisfies FifoRequest);
    return filled;
  };

  return {
    writer,
    async *blocks(pool, options = {}) {
      const blockSize = pool[0]!.length;
      const blocks = readAhead(pool, {
        ...options,
        count: Infinity, // until every writer has closed its end: a block comes back short
        position: (k) => k * blockSize,
        want: () => blockSize,
        read: (_k, buffer) => fill(buffer),
      });
      for await (const block of blocks) if (block.length > 0) yield block;
    },
    async close() {
      if (closed) return;
      closed = true;
      await writer.close().catch(() => undefined);
      worker.postMessage({ type: 'close' } satisfies FifoRequest);
      await worker.terminate().catch(() => undefined);
      await fsp.rm(dir, { recursive: true, force: true }).catch(() => undefined);
    },
  };
}
