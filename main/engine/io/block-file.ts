/**
 * Image files and block devices behind one small interface. Everything that reads a card or an image
 * (partition tables, used-block maps, clone, flash) goes through here, so device quirks live in one place.
 */
import { constants, promises as fsp } from 'node:fs';
import { execFile } from 'node:child_process';
import { basename } from 'node:path';
import { promisify } from 'node:util';
import { AtlasError, toAtlasError } from '../errors';
import type { FileHandle } from 'node:fs/promises';
import type { DeviceHandle } from './fd-handle';

const execFileAsync = promisify(execFile);

export interface BlockFile {
  readonly path: string;
  readonly handle: DeviceHandle;
  /** Size in bytes: st_size for files, the device capacity for block devices. */
  readonly size: number;
  readonly isBlockDevice: boolean;
  /** Reads exactly `length` bytes at `position` (fewer only at the end of the file). */
  read(buffer: Uint8Array, position: number, length?: number): Promise<number>;
  write(buffer: Uint8Array, position: number, length?: number): Promise<void>;
  close(): Promise<void>;
}

export interface OpenOptions {
  write?: boolean;
  /** Create the file (regular files only). */
  create?: boolean;
  /**
   * Exclusive open. On Linux O_EXCL on a block device fails with EBUSY when a partition is mounted, which is
   * exactly the guard we want before writing a card. macOS ignores O_EXCL without O_CREAT (no exclusivity at
   * all): cards are opened by the broker there, after `diskutil unmountDisk`, never through this option.
   */
  exclusive?: boolean;
}

export async function openBlockFile(path: string, options: OpenOptions = {}): Promise<BlockFile> {
  let flags = options.write ? constants.O_RDWR : constants.O_RDONLY;
  if (options.create) flags |= constants.O_CREAT;
  let handle: FileHandle;
  try {
    const st = await fsp.stat(path).catch(() => null);
    if (options.exclusive && st?.isBlockDevice() && process.platform === 'linux') flags |= constants.O_EXCL;
    handle = await fsp.open(path, flags, 0o644);
  } catch (error) {
    const sys = error as NodeJS.ErrnoException;
    if (sys.code === 'EBUSY') {
      throw new AtlasError(
        'TARGET_MOUNTED',
        `${path} is in use (mounted or opened by another program). Unmount it first.`,
      );
    }
    throw toAtlasError(error, `Cannot open ${path}`);
  }
  try {
    const st = await handle.stat();
    const isBlockDevice = st.isBlockDevice();
    const size = isBlockDevice ? await blockDeviceSize(path) : st.size;
    return makeBlockFile(path, handle, size, isBlockDevice);
  } catch (error) {
    await handle.close();
    throw error;
  }
}

export function makeBlockFile(
  path: string,
  handle: DeviceHandle,
  size: number,
  isBlockDevice: boolean,
): BlockFile {
  return {
    path,
    handle,
    size,
    isBlockDevice,
    read: (buffer, position, length = buffer.byteLength) => readFullyAt(handle, buffer, position, length),
    write: (buffer, position, length = buffer.byteLength) =>
      writeFullyAt(
        handle,
        buffer,
        position,
        length,
        (at) => new AtlasError('IO_ERROR', `Short write to ${path} at byte ${at}.`),
      ),
    close: () => handle.close(),
  };
}

/**
 * Reads until `length` bytes are in `buffer` or the file ends (a read may return less than asked: pipes,
 * devices, signals). Returns the bytes read.
 */
export async function readFullyAt(
  handle: DeviceHandle,
  buffer: Uint8Array,
  position: number,
  length: number,
): Promise<number> {
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(buffer, done, length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done;
}

/** Writes all `length` bytes; a write that takes nothing (a full disk, a card gone) throws `onStall(offset)`. */
export async function writeFullyAt(
  handle: DeviceHandle,
  buffer: Uint8Array,
  position: number,
  length: number,
  onStall: (offset: number) => Error,
): Promise<void> {
  let done = 0;
  while (done < length) {
    const { bytesWritten } = await handle.write(buffer, done, length - done, position + done);
    if (bytesWritten === 0) throw onStall(position + done);
    done += bytesWritten;
  }
}

/** Capacity of a block device in bytes, from sysfs on Linux and diskutil on macOS. */
export async function blockDeviceSize(path: string): Promise<number> {
  if (process.platform === 'linux') {
    const real = await fsp.realpath(path);
    const sectors = await fsp.readFile(`/sys/class/block/${basename(real)}/size`, 'utf8');
    return Number(sectors.trim()) * 512; // sysfs always counts 512-byte units
  }
  if (process.platform === 'darwin') {
    const { stdout } = await execFileAsync('diskutil', ['info', path]);
    const match = /Disk Size:.*\((\d+) Bytes\)/.exec(stdout);
    if (match) return Number(match[1]);
  }
  throw new AtlasError('UNSUPPORTED', `Cannot tell the size of ${path} on ${process.platform}.`);
}

/** Reads `length` bytes at `position` into a new buffer; throws TRUNCATED when the file is shorter. */
export async function readExactly(file: BlockFile, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  const got = await file.read(buffer, position, length);
  if (got < length) {
    throw new AtlasError(
      'TRUNCATED',
      `${file.path} ends at byte ${position + got}, expected ${position + length}.`,
    );
  }
  return buffer;
}
