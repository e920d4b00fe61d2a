/**
 * The worker thread that holds an ext2/3/4 filesystem open through libext2fs (WebAssembly). It lives in its own
 * thread because the wasm glue installs process-wide uncaughtException/unhandledRejection handlers that rethrow,
 * which would take the whole app down; here they can only end this worker, and the API sees the exit.
 *
 * It starts idle (loading libext2fs meanwhile) and runs one session per 'open', one after another, each on the
 * port the 'open' hands over. One wasm instance mounts and unmounts again and again: the package frees each
 * mount's memory and disk object on umount (and on a failed mount); 400 cycles left the heap where it was.
 */
import { parentPort, type MessagePort } from 'node:worker_threads';
import { promises as fsp } from 'node:fs';
import { FdHandle, type DeviceHandle } from '../../io/fd-handle';
import { AlignedHandle } from '../../io/aligned-handle';
import { posix } from 'node:path';
import * as ext2fs from 'ext2fs';
import { readFullyAt, writeFullyAt } from '../../io/block-file';
import type {
  Ext4Op,
  Ext4Result,
  Ext4Stat,
  FromWorker,
  ToWorker,
  OpenSession,
  WorkerFailure,
  WorkerInit,
} from './protocol';

type Post = (message: FromWorker) => void;

// libext2fs's own error codes (lib/ext2fs/ext2_err.et.in) that mean a plain errno
const EXT2_ET_BASE = 2133571328;
const EXT2_ERRNO: Record<number, string> = {
  [EXT2_ET_BASE + 72]: 'ENOSPC', // could not allocate block
  [EXT2_ET_BASE + 73]: 'ENOSPC', // could not allocate inode
  [EXT2_ET_BASE + 79]: 'EEXIST', // directory already exists
};

function failure(error: unknown, fallbackCode: string, extra: Partial<WorkerFailure> = {}): WorkerFailure {
  const e = error as { code?: unknown; message?: unknown; errno?: unknown } | undefined;
  const mapped = typeof e?.errno === 'number' ? EXT2_ERRNO[e.errno] : undefined;
  const code = mapped ?? (typeof e?.code === 'string' && e.code !== 'UNKNOWN' ? e.code : fallbackCode);
  return { code, message: typeof e?.message === 'string' ? e.message : String(error), ...extra };
}

/**
 * A gated session's reads wait for the image's bytes: the parent decodes an archive into the file in order
 * and answers each 'need' once the bytes are there (see Ext4OpenOptions.waitFor).
 */
class Gate {
  private available = 0;
  private nextId = 1;
  private readonly waiting = new Map<number, () => void>();

  constructor(private readonly post: Post) {}

  async need(end: number): Promise<void> {
    if (end <= this.available) return;
    const id = this.nextId++;
    await new Promise<void>((resolve) => {
      this.waiting.set(id, resolve);
      this.post({ type: 'need', id, end });
    });
  }

  answer(id: number, bytes: number): void {
    this.available = Math.max(this.available, bytes);
    this.waiting.get(id)?.();
    this.waiting.delete(id);
  }
}

interface Placed {
  position: number;
  data: Buffer;
}

const overlaps = (a: Placed, position: number, length: number): boolean =>
  a.position < position + length && position < a.position + a.data.length;

/** Copies the parts of `writes` that fall in the `length` bytes at `fileOffset` over `target`, in order. */
function applyOver(writes: Iterable<Placed>, target: Buffer, fileOffset: number, length: number): void {
  for (const { position, data } of writes) {
    const from = Math.max(position, fileOffset);
    const to = Math.min(position + data.length, fileOffset + length);
    if (from < to) data.copy(target, from - fileOffset, from - position, to - position);
  }
}

/** reads and writes up to this size are kept for the session (metadata: inode tables, directories, bitmaps) */
const KEPT_IO_MAX = 64 * 1024;
/** what a session keeps at most, of reads (the oldest go first) and of writes (then written back) */
const CACHE_BYTES = 8 * 1024 * 1024;

/**
 * The bytes of the session's small reads, as the file holds them. libext2fs keeps no block cache of its own
 * here: a deploy's re-arm read 30 blocks 180 times, each an uncached read of the card (O_DIRECT).
 * Only this session writes the filesystem while it is open, so a write reaching the file just drops what it
 * overlaps.
 */
class ReadCache {
  private readonly reads = new Map<string, Placed>();
  private bytes = 0;

  get(position: number, length: number): Buffer | undefined {
    return this.reads.get(`${position}:${length}`)?.data;
  }

  put(position: number, data: Buffer): void {
    if (data.length > KEPT_IO_MAX) return;
    const key = `${position}:${data.length}`;
    if (this.reads.has(key)) return;
    this.reads.set(key, { position, data: Buffer.from(data) });
    this.bytes += data.length;
    for (const [oldest, entry] of this.reads) {
      if (this.bytes <= CACHE_BYTES) break;
      this.reads.delete(oldest);
      this.bytes -= entry.data.length;
    }
  }

  drop(position: number, length: number): void {
    for (const [key, entry] of this.reads) {
      if (overlaps(entry, position, length)) {
        this.reads.delete(key);
        this.bytes -= entry.data.length;
      }
    }
  }
}

/**
 * The disk libext2fs reads and writes, over a file handle. A read-only session still gets writes from
 * libext2fs (atime on open), so those land in memory and are overlaid on later reads: the file stays untouched.
 * A writable session keeps its small writes until flush (writeBack): libext2fs rewrites the same inode table
 * and bitmap blocks over and over (a re-arm: 52 writes, 17 blocks), and each would be an uncached card write.
 */
class HandleDisk implements ext2fs.Ext2Disk {
  /** the writes of a read-only session, in order; a capture session hands them back on close */
  readonly overlay: Placed[] = [];
  private readonly cache = new ReadCache();
  /** a writable session's small writes not yet in the file, by place; they never overlap each other */
  private readonly dirty = new Map<string, Placed>();
  private dirtyBytes = 0;

  constructor(
    private readonly handle: DeviceHandle,
    private readonly writable: boolean,
    private readonly gate: Gate | null,
  ) {}

  async read(buffer: Buffer, bufferOffset: number, length: number, fileOffset: number): Promise<void> {
    await this.gate?.need(fileOffset + length);
    const target = buffer.subarray(bufferOffset, bufferOffset + length);
    const cached = this.cache.get(fileOffset, length);
    if (cached) cached.copy(target);
    else {
      const done = await readFullyAt(this.handle, target, fileOffset, length);
      // past the end of a file reads as zeros, as on a sparse image
      if (done < length) target.fill(0, done);
      this.cache.put(fileOffset, target);
    }
    // what the session wrote, on top of the file's bytes (never into the cache)
    applyOver(this.dirty.values(), target, fileOffset, length);
    applyOver(this.overlay, target, fileOffset, length);
  }

  async write(buffer: Buffer, bufferOffset: number, length: number, fileOffset: number): Promise<void> {
    const data = buffer.subarray(bufferOffset, bufferOffset + length);
    if (!this.writable) {
      this.overlay.push({ position: fileOffset, data: Buffer.from(data) });
      return;
    }
    const key = `${fileOffset}:${length}`;
    // a write over part of a kept one: the file gets the kept ones first, so the order holds
    if ([...this.dirty].some(([k, d]) => k !== key && overlaps(d, fileOffset, length)))
      await this.writeBack();
    if (length > KEPT_IO_MAX) {
      this.cache.drop(fileOffset, length);
      await this.writeOut(data, fileOffset);
      return;
    }
    this.dirtyBytes += length - (this.dirty.get(key)?.data.length ?? 0);
    this.dirty.set(key, { position: fileOffset, data: Buffer.from(data) });
    if (this.dirtyBytes > CACHE_BYTES) await this.writeBack();
  }

  /** Writes the kept writes to the file (flush does, and the session's close, whatever else happened). */
  async writeBack(): Promise<void> {
    for (const [key, { position, data }] of this.dirty) {
      await this.writeOut(data, position);
      this.dirty.delete(key);
      this.dirtyBytes -= data.length;
    }
  }

  private async writeOut(data: Buffer, position: number): Promise<void> {
    await writeFullyAt(
      this.handle,
      data,
      position,
      data.length,
      (at) => new Error(`short write at byte ${at}`),
    );
    this.cache.drop(position, data.length);
  }

  async discard(): Promise<void> {
    // nothing to do: freed blocks keep their bytes, exactly as a plain write would leave them
  }

  async flush(): Promise<void> {
    await this.writeBack();
    if (this.writable) await this.handle.datasync();
  }
}

type Fs = ext2fs.Ext2Promises;

/** bytes per libext2fs read or write call: what the wasm heap holds comfortably */
const IO_SLICE = 1 << 20;
/** O_RDONLY | O_NOATIME as libext2fs's binding numbers them (its fs.js constants: 0 and 0o1000000). */
const O_RDONLY_NOATIME = 0 | 0o1000000;

/** Nothing at the path: ENOENT, or ENOTDIR when a parent is a file (as lstat(2) says). */
function isMissing(error: unknown): boolean {
  const code = (error as { code?: string }).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

function errno(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

async function lstatOrNull(fs: Fs, path: string): Promise<Ext4Stat | null> {
  try {
    const st = await fs.lstat(path);
    const type = st.isSymbolicLink()
      ? 'symlink'
      : st.isDirectory()
        ? 'directory'
        : st.isFile()
          ? 'file'
          : 'other';
    return { type, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, size: st.size };
  } catch (error) {
    if (isMissing(error)) return null;
    throw error;
  }
}

/** Is `path` a directory, following symlinks (Armbian's /sbin → usr/sbin)? */
async function isDirectoryFollowing(fs: Fs, path: string, depth = 0): Promise<boolean | null> {
  const st = await lstatOrNull(fs, path);
  if (st === null) return null;
  if (st.type !== 'symlink') return st.type === 'directory';
  if (depth > 16) throw errno('ELOOP', `too many levels of symbolic links at ${path}`);
  const target = await fs.readlink(path);
  return isDirectoryFollowing(fs, posix.resolve(posix.dirname(path), target), depth + 1);
}

async function mkdirp(fs: Fs, path: string, mode: number, uid: number, gid: number): Promise<void> {
  let current = '';
  for (const part of path.split('/').filter(Boolean)) {
    current += `/${part}`;
    const isDir = await isDirectoryFollowing(fs, current);
    if (isDir === true) continue;
    if (isDir === false) throw errno('ENOTDIR', `${current} exists and is not a directory`);
    // libext2fs has no recursive mkdir and reports an existing path as UNKNOWN: hence the check above
    await fs.mkdir(current, mode);
    await fs.chmod(current, mode);
    await fs.chown(current, uid, gid);
  }
}

/** readFile of libext2fs always decodes UTF-8 (its option defaults win over the caller's), so read by fd. */
async function readAll(fs: Fs, path: string, size: number): Promise<Uint8Array> {
  // O_NOATIME: reading a file in a writable session must not rewrite its inode (a new atime and version)
  const { fd } = await fs.open(path, O_RDONLY_NOATIME);
  try {
    const data = Buffer.alloc(size);
    let done = 0;
    while (done < size) {
      const chunk = Math.min(size - done, IO_SLICE);
      const { bytesRead } = await fs.read(fd, data.subarray(done), 0, chunk, done);
      if (bytesRead === 0) throw errno('EIO', `${path} ended at byte ${done} of ${size}`);
      done += bytesRead;
    }
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  } finally {
    await fs.close(fd);
  }
}

/**
 * Writes in slices: each libext2fs write copies its whole buffer into the wasm heap, so one big write of a
 * large file runs the heap out of memory (Aborted(OOM)) instead of reporting a full filesystem.
 */
async function writeAll(fs: Fs, path: string, data: Buffer, mode: number): Promise<void> {
  const { fd } = await fs.open(path, 'w', mode);
  try {
    let done = 0;
    while (done < data.length) {
      const length = Math.min(data.length - done, IO_SLICE);
      const { bytesWritten } = await fs.write(fd, data, done, length, done);
      if (bytesWritten <= 0) throw errno('EIO', `${path}: write made no progress at byte ${done}`);
      done += bytesWritten;
    }
  } finally {
    await fs.close(fd);
  }
}

async function apply(fs: Fs, op: Ext4Op): Promise<Ext4Result> {
  switch (op.op) {
    case 'mkdirp':
      await mkdirp(fs, op.path, op.mode ?? 0o755, op.uid ?? 0, op.gid ?? 0);
      return null;
    case 'writeFile': {
      const existing = await lstatOrNull(fs, op.path);
      if (existing?.type === 'directory') throw errno('EISDIR', `${op.path} is a directory`);
      // replace rather than write through: a fresh inode, and a link there is not followed
      if (existing) await fs.unlink(op.path);
      await writeAll(
        fs,
        op.path,
        Buffer.from(op.data.buffer, op.data.byteOffset, op.data.byteLength),
        op.mode,
      );
      // set explicitly: libext2fs's writeFile ignores the caller's mode, and a create mode may be filtered
      await fs.chmod(op.path, op.mode);
      await fs.chown(op.path, op.uid ?? 0, op.gid ?? 0);
      return null;
    }
    case 'symlink': {
      const existing = await lstatOrNull(fs, op.path);
      if (existing) {
        if (!op.replace || existing.type !== 'symlink') throw errno('EEXIST', `${op.path} already exists`);
        await fs.unlink(op.path);
      }
      await fs.symlink(op.target, op.path);
      await fs.lchown(op.path, op.uid ?? 0, op.gid ?? 0);
      return null;
    }
    case 'readFile': {
      const st = await lstatOrNull(fs, op.path);
      if (st === null) throw errno('ENOENT', `${op.path} does not exist`);
      if (st.type !== 'file') throw errno('EINVAL', `${op.path} is not a regular file`);
      return readAll(fs, op.path, st.size);
    }
    case 'readlink':
      return fs.readlink(op.path);
    case 'readdir':
      return (await fs.readdir(op.path)).filter((name) => name !== '.' && name !== '..').sort();
    case 'stat':
      return lstatOrNull(fs, op.path);
    case 'exists':
      return (await lstatOrNull(fs, op.path)) !== null;
    case 'unlink':
      await fs.unlink(op.path);
      return null;
  }
}

/** Runs one session on its own port; resolves once it is closed or failed, the worker then idle again. */
async function runSession(init: WorkerInit, port: MessagePort): Promise<void> {
  const post: Post = (message) => port.postMessage(message);
  const gate = init.gated ? new Gate(post) : null;
  let finished!: () => void;
  const done = new Promise<void>((resolve) => (finished = resolve));
  const end = (message: FromWorker): void => {
    post(message);
    port.close();
    finished();
  };
  // answered at once, outside the ops' chain: a read of the mount or of an op is waiting for it
  port.on('message', (message: ToWorker) => {
    if (message.type === 'available') gate?.answer(message.id, message.bytes);
  });
  let handle: DeviceHandle;
  try {
    // a descriptor passed in belongs to the caller (worker threads share the process's descriptors)
    handle =
      init.fd !== undefined
        ? new FdHandle(init.fd, { owned: false })
        : await fsp.open(init.path, init.write ? 'r+' : 'r');
    if (init.directUnit !== undefined) handle = new AlignedHandle(handle, init.directUnit);
  } catch (error) {
    end({ type: 'failed', error: failure(error, 'OPEN') });
    return done;
  }
  const disk = new HandleDisk(handle, init.write, gate);
  let mounted: ext2fs.Ext2Fs;
  try {
    mounted = await ext2fs.mount(disk, init.offset);
  } catch (error) {
    await handle.close();
    end({ type: 'failed', error: failure(error, 'MOUNT') });
    return done;
  }
  const fs = mounted.promises;
  // one batch at a time, in arrival order
  let chain = Promise.resolve();
  port.on('message', (message: ToWorker) => {
    if (message.type === 'available') return;
    chain = chain.then(async () => {
      if (message.type === 'close') {
        let error: WorkerFailure | undefined;
        try {
          await ext2fs.umount(mounted);
        } catch (e) {
          error = failure(e, 'UMOUNT');
        }
        try {
          // even after a failed unmount: the file gets what libext2fs wrote, as it would have without keeping
          await disk.writeBack();
          if (init.sync) await disk.flush();
        } catch (e) {
          error ??= failure(e, 'UMOUNT');
        }
        await handle.close().catch(() => undefined);
        if (error) end({ type: 'closed', error });
        else end({ type: 'closed', ...(init.capture ? { writes: disk.overlay } : {}) });
        return;
      }
      const results: Ext4Result[] = [];
      for (const [index, op] of message.ops.entries()) {
        try {
          results.push(await apply(fs, op));
        } catch (error) {
          post({
            type: 'error',
            id: message.id,
            error: failure(error, 'UNKNOWN', { path: op.path, opIndex: index }),
          });
          return;
        }
      }
      post({ type: 'done', id: message.id, results });
    });
  });
  post({ type: 'ready' });
  return done;
}

// sessions one after another: the pool hands a worker on only once its session closed, but an 'open' that
// arrives early anyway waits its turn rather than sharing libext2fs's state
let sessions = Promise.resolve();
parentPort!.on('message', (message: OpenSession) => {
  sessions = sessions.then(() => runSession(message.init, message.port));
});
