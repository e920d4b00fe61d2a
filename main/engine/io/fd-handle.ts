/**
 * The part of a file handle the engine uses on a device, and that part over a bare descriptor. The root broker
 * opens a card and hands its descriptor to the job worker, which runs as the person (see main/helper/): Node
 * has no public way to make a FileHandle from a descriptor, so FdHandle implements the same few calls.
 */
import * as fs from 'node:fs';
import { promisify } from 'node:util';

export interface DeviceHandle {
  readonly fd: number;
  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
  write(
    buffer: Uint8Array,
    offset: number,
    length: number,
    position: number,
  ): Promise<{ bytesWritten: number }>;
  sync(): Promise<void>;
  datasync(): Promise<void>;
  close(): Promise<void>;
}

const read = promisify(fs.read);
const write = promisify(fs.write);
const fsync = promisify(fs.fsync);
const fdatasync = promisify(fs.fdatasync);
const close = promisify(fs.close);

/**
 * The descriptor behind `handle` when its reads are plain pread()s of it: an FdHandle or Node's own FileHandle,
 * not a wrapper that adds rules of its own (an aligning handle, a test's raw card). Null otherwise.
 */
export function plainDescriptor(handle: DeviceHandle): number | null {
  if (handle instanceof FdHandle) return handle.fd;
  return (Object.getPrototypeOf(handle) as { constructor?: { name?: string } } | null)?.constructor?.name ===
    'FileHandle'
    ? handle.fd
    : null;
}

/** A descriptor this process inherited or opened; close() closes it once (never, when not `owned`). */
export class FdHandle implements DeviceHandle {
  private closed = false;
  private readonly owned: boolean;

  constructor(
    readonly fd: number,
    options: { owned?: boolean } = {},
  ) {
    this.owned = options.owned !== false;
  }

  async read(buffer: Uint8Array, offset: number, length: number, position: number) {
    const { bytesRead } = await read(this.fd, buffer, offset, length, position);
    return { bytesRead };
  }

  async write(buffer: Uint8Array, offset: number, length: number, position: number) {
    const { bytesWritten } = await write(this.fd, buffer, offset, length, position);
    return { bytesWritten };
  }

  sync(): Promise<void> {
    return fsync(this.fd);
  }

  datasync(): Promise<void> {
    return fdatasync(this.fd);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.owned) await close(this.fd);
  }
}
