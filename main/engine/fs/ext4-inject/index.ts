/**
 * Reads and writes files inside the ext2/3/4 filesystem of an image file, at a byte offset, without mounting:
 * libext2fs (WebAssembly, the `ext2fs` package) in a worker thread. Used by Insert to put the Atlas firstboot
 * into a base image, and to read /etc files of images (recognition, phase rules).
 *
 *   await withExt4(img, { offset, write: true }, async (ext4) => {
 *     await ext4.mkdirp('/etc/atlas');
 *     await ext4.writeFile('/etc/atlas/x.conf', data, { mode: 0o600 });
 *   });
 */
import { promises as fsp } from 'node:fs';
import { MessageChannel } from 'node:worker_threads';
import { posix } from 'node:path';
import { AtlasError, toAtlasError, type AtlasErrorCode } from '../../errors';
import { writeFullyAt } from '../../io/block-file';
import { returnWorker, takeWorker } from './pool';
import type {
  CapturedWrite,
  Ext4Op,
  Ext4Owner,
  Ext4Result,
  Ext4Stat,
  FromWorker,
  OpenSession,
  ToWorker,
  WorkerFailure,
  WorkerInit,
} from './protocol';

export type { CapturedWrite, Ext4Op, Ext4Owner, Ext4Result, Ext4Stat, Ext4FileType } from './protocol';
export { EXT4_WARM_WORKERS, prestartExt4Workers } from './pool';

export interface Ext4OpenOptions {
  /** byte offset of the filesystem inside the file (partition start × sector size) */
  offset: number;
  /** open for writing; without it nothing is ever written to the file */
  write?: boolean;
  /**
   * fdatasync the file on close (default true). false: the caller syncs it itself, e.g. once for a copy and
   * the injection together, while the read-back runs.
   */
  sync?: boolean;
  /**
   * Work on this open descriptor of the image instead of opening the path (which then only names it in
   * messages): a card the root broker opened, which the person cannot open by path. It is not closed.
   */
  fd?: number;
  /**
   * `fd` was opened with O_DIRECT (a card restore writes uncached): its I/O must be whole units of this many
   * bytes at aligned offsets (see io/aligned-handle.ts)
   */
  directUnit?: number;
  /**
   * aborting ends the worker at once: the small writes it still kept (see worker.ts) are lost and a file being
   * written is left half-done (write to a *.partial)
   */
  signal?: AbortSignal | undefined;
  /**
   * The image is still being written, in order (an archive decoded as it is read: compress/decoded-head.ts):
   * each read first waits for this to resolve with the bytes the file then holds (fewer than `end` only when
   * the image ends first). A rejection ends the session with that error. Read-only sessions only.
   */
  waitFor?: (end: number) => Promise<number>;
}

export interface Ext4Session {
  /** Runs the ops in order and stops at the first failure (an AtlasError naming the path). */
  run(ops: Ext4Op[]): Promise<Ext4Result[]>;
  mkdirp(path: string, options?: { mode?: number } & Ext4Owner): Promise<void>;
  writeFile(path: string, data: Uint8Array | string, options: { mode: number } & Ext4Owner): Promise<void>;
  symlink(target: string, path: string, options?: { replace?: boolean } & Ext4Owner): Promise<void>;
  readFile(path: string): Promise<Buffer>;
  readlink(path: string): Promise<string>;
  readdir(path: string): Promise<string[]>;
  /** lstat; null when nothing is at `path` */
  stat(path: string): Promise<Ext4Stat | null>;
  exists(path: string): Promise<boolean>;
  unlink(path: string): Promise<void>;
  /** A capture session's writes, once it is closed (see captureExt4Writes); empty otherwise. */
  capturedWrites(): CapturedWrite[];
  /**
   * Unmounts (writing back libext2fs's metadata), syncs (unless sync: false) and hands the worker back to the
   * pool (or ends it, after any failure). Safe to call twice.
   */
  close(): Promise<void>;
}

function checkPath(path: string): void {
  if (!path.startsWith('/') || path.includes('\0') || posix.normalize(path) !== path || path === '/') {
    throw new AtlasError('INVALID_ARGUMENT', `"${path}" is not a normalised absolute path inside the image.`);
  }
}

function toError(failure: WorkerFailure, image: string, offset: number): AtlasError {
  const where = failure.path ? `${failure.path} in the image ${image}` : `the image ${image}`;
  const Where = where[0]!.toUpperCase() + where.slice(1);
  const details = { image, offset, errno: failure.code, ...(failure.path ? { path: failure.path } : {}) };
  const table: Record<string, [AtlasErrorCode, string]> = {
    OPEN: ['NOT_FOUND', `Cannot open ${image}: ${failure.message}`],
    MOUNT: [
      'FS_UNSUPPORTED',
      `No readable ext2/3/4 filesystem at byte ${offset} of ${image}. Is this the root partition of the image?`,
    ],
    ENOENT: ['NOT_FOUND', `${Where} does not exist.`],
    EEXIST: ['ALREADY_EXISTS', `${Where} already exists.`],
    ENOTDIR: ['INVALID_ARGUMENT', `A part of the path to ${where} is not a directory.`],
    EISDIR: ['INVALID_ARGUMENT', `${Where} is a directory.`],
    ENOSPC: [
      'TARGET_TOO_SMALL',
      `The root filesystem of ${image} is full: no room for ${failure.path ?? 'the files'}.`,
    ],
    EIO: ['IO_ERROR', `Input/output error on ${image} while working on ${failure.path ?? 'the filesystem'}.`],
    EROFS: ['READ_ONLY', `${image} is opened read-only.`],
  };
  const [code, message] = table[failure.code] ?? [
    'IO_ERROR',
    `libext2fs failed on ${where}: ${failure.message}`,
  ];
  return new AtlasError(code, message, details);
}

/** Opens the filesystem at `offset` of `imagePath` in a worker (a warm one if any); close the session when done. */
export async function openExt4(
  imagePath: string,
  options: Ext4OpenOptions & { capture?: boolean },
): Promise<Ext4Session> {
  const { offset, signal } = options;
  if (!Number.isSafeInteger(offset) || offset < 0) {
    throw new AtlasError('INVALID_ARGUMENT', `Offset ${offset} is not a byte position.`);
  }
  if (signal?.aborted) throw new AtlasError('CANCELLED', 'The operation was cancelled.');
  const capture = options.capture === true;
  const init: WorkerInit = {
    path: imagePath,
    ...(options.fd !== undefined ? { fd: options.fd } : {}),
    ...(options.directUnit !== undefined ? { directUnit: options.directUnit } : {}),
    offset,
    write: options.write === true && !capture,
    sync: options.sync !== false,
    capture,
    ...(options.waitFor ? { gated: true } : {}),
  };
  if (options.waitFor && init.write) {
    throw new AtlasError('INVALID_ARGUMENT', 'A session on an image still being written cannot write.');
  }
  let captured: CapturedWrite[] = [];
  const worker = takeWorker();
  // the session's own port: a reused worker's earlier sessions cannot reach this one's listeners
  const { port1: port, port2 } = new MessageChannel();
  worker.postMessage({ type: 'open', init, port: port2 } satisfies OpenSession, [port2]);

  let nextId = 1;
  let ended: AtlasError | null = null;
  const pending = new Map<number, { resolve: (r: Ext4Result[]) => void; reject: (e: AtlasError) => void }>();
  let onReady: { resolve: () => void; reject: (e: AtlasError) => void } | null = null;
  let onClosed: { resolve: () => void; reject: (e: AtlasError) => void } | null = null;

  const endAll = (error: AtlasError): void => {
    if (ended) return;
    ended = error;
    onReady?.reject(error);
    onClosed?.reject(error);
    for (const p of pending.values()) p.reject(error);
    pending.clear();
  };

  port.on('message', (message: FromWorker) => {
    switch (message.type) {
      case 'ready':
        onReady?.resolve();
        break;
      case 'failed':
        endAll(toError(message.error, imagePath, offset));
        break;
      case 'done':
        pending.get(message.id)?.resolve(message.results);
        pending.delete(message.id);
        break;
      case 'error':
        pending.get(message.id)?.reject(toError(message.error, imagePath, offset));
        pending.delete(message.id);
        break;
      case 'need':
        options.waitFor!(message.end).then(
          (bytes) => {
            if (!ended) port.postMessage({ type: 'available', id: message.id, bytes } satisfies ToWorker);
          },
          (error: unknown) => {
            endAll(toAtlasError(error));
            void release(false);
          },
        );
        break;
      case 'closed':
        captured = message.writes ?? [];
        if (message.error) onClosed?.reject(toError(message.error, imagePath, offset));
        else onClosed?.resolve();
        onClosed = null;
        break;
    }
  });
  const onError = (error: Error): void => {
    endAll(
      new AtlasError(
        'INTERNAL',
        `The ext4 worker failed on ${imagePath}: ${error.message}`,
        {},
        { cause: error },
      ),
    );
  };
  const onExit = (code: number): void => {
    endAll(new AtlasError('INTERNAL', `The ext4 worker for ${imagePath} ended early (exit code ${code}).`));
  };
  worker.on('error', onError);
  worker.on('exit', onExit);
  const onAbort = (): void => {
    endAll(new AtlasError('CANCELLED', 'The operation was cancelled.'));
    void release(false);
  };
  /** Detaches the session; the worker serves the next one only after a clean close, else it is ended. */
  let released: Promise<void> | null = null;
  const release = (clean: boolean): Promise<void> => {
    released ??= (async () => {
      signal?.removeEventListener('abort', onAbort);
      worker.off('error', onError);
      worker.off('exit', onExit);
      port.close();
      if (clean) returnWorker(worker);
      else await worker.terminate();
    })();
    return released;
  };
  signal?.addEventListener('abort', onAbort, { once: true });

  try {
    await new Promise<void>((resolve, reject) => {
      onReady = { resolve, reject };
    });
  } catch (error) {
    await release(false);
    throw error;
  }
  onReady = null;

  const send = (message: ToWorker): void => port.postMessage(message);
  let closing: Promise<void> | null = null;

  const session: Ext4Session = {
    run(ops) {
      if (ended) return Promise.reject(ended);
      if (closing) return Promise.reject(new AtlasError('INTERNAL', 'The ext4 session is closed.'));
      for (const op of ops) {
        checkPath(op.path);
        if (op.op === 'writeFile' && (!Number.isInteger(op.mode) || op.mode < 0 || op.mode > 0o7777)) {
          return Promise.reject(
            new AtlasError('INVALID_ARGUMENT', `Mode ${op.mode} is not a permission mode.`),
          );
        }
      }
      const id = nextId++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        send({ type: 'run', id, ops });
      });
    },
    async mkdirp(path, o = {}) {
      await session.run([{ op: 'mkdirp', path, ...o }]);
    },
    async writeFile(path, data, o) {
      const bytes = typeof data === 'string' ? new Uint8Array(Buffer.from(data, 'utf8')) : data;
      await session.run([{ op: 'writeFile', path, data: bytes, ...o }]);
    },
    async symlink(target, path, o = {}) {
      await session.run([{ op: 'symlink', path, target, ...o }]);
    },
    async readFile(path) {
      const [data] = await session.run([{ op: 'readFile', path }]);
      const bytes = data as Uint8Array;
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    },
    async readlink(path) {
      return (await session.run([{ op: 'readlink', path }]))[0] as string;
    },
    async readdir(path) {
      return (await session.run([{ op: 'readdir', path }]))[0] as string[];
    },
    async stat(path) {
      return (await session.run([{ op: 'stat', path }]))[0] as Ext4Stat | null;
    },
    async exists(path) {
      return (await session.run([{ op: 'exists', path }]))[0] as boolean;
    },
    async unlink(path) {
      await session.run([{ op: 'unlink', path }]);
    },
    capturedWrites() {
      return captured;
    },
    close() {
      closing ??= (async () => {
        let clean = false;
        try {
          if (ended) return;
          await new Promise<void>((resolve, reject) => {
            onClosed = { resolve, reject };
            send({ type: 'close' });
          });
          clean = true;
        } finally {
          ended ??= new AtlasError('INTERNAL', 'The ext4 session is closed.');
          await release(clean);
        }
      })();
      return closing;
    },
  };
  return session;
}

/** Opens, runs `fn`, and always closes; the close error (a failed unmount) only surfaces when `fn` succeeded. */
export async function withExt4<T>(
  imagePath: string,
  options: Ext4OpenOptions,
  fn: (session: Ext4Session) => Promise<T>,
): Promise<T> {
  return (await runSession(imagePath, options, fn)).result;
}

/**
 * Runs `fn` on a copy-on-write view of the filesystem: `imagePath` is only read, and every write libext2fs
 * makes (data, inodes, bitmaps, superblock) comes back in order, to be applied to a copy of the image with
 * applyCapturedWrites(). Insert uses it to inject into the base while the base is still being copied.
 */
export async function captureExt4Writes<T>(
  imagePath: string,
  options: Omit<Ext4OpenOptions, 'write' | 'sync'>,
  fn: (session: Ext4Session) => Promise<T>,
): Promise<{ result: T; writes: CapturedWrite[] }> {
  return runSession(imagePath, { ...options, capture: true }, fn);
}

/** Writes captured writes into `imagePath` (a copy of the image they were captured on), in order. */
export async function applyCapturedWrites(imagePath: string, writes: CapturedWrite[]): Promise<void> {
  const handle = await fsp.open(imagePath, 'r+');
  try {
    for (const { position, data } of writes) {
      await writeFullyAt(
        handle,
        data,
        position,
        data.byteLength,
        (at) => new AtlasError('IO_ERROR', `Short write to ${imagePath} at byte ${at}.`),
      );
    }
  } finally {
    await handle.close();
  }
}

async function runSession<T>(
  imagePath: string,
  options: Ext4OpenOptions & { capture?: boolean },
  fn: (session: Ext4Session) => Promise<T>,
): Promise<{ result: T; writes: CapturedWrite[] }> {
  const session = await openExt4(imagePath, options);
  let result: T;
  try {
    result = await fn(session);
  } catch (error) {
    await session.close().catch(() => undefined);
    throw error;
  }
  await session.close();
  return { result, writes: session.capturedWrites() };
}
