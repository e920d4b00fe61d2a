/**
 * Devices opened for flashing: O_DIRECT (Linux) so writes reach the card instead of piling up as dirty pages
 * (honest progress, flat memory) and read-back comes from the card, not the page cache.
 *
 * Node cannot allocate aligned memory, and O_DIRECT needs the buffer address aligned to the device's DMA
 * alignment. Large ArrayBuffers come from malloc/mmap at a fixed offset from a page boundary, so we allocate
 * 4 KiB more than needed and probe: the first offset at which an O_DIRECT read of 4 KiB succeeds is aligned
 * for that device. When O_DIRECT is not available (macOS, where /dev/rdiskN is uncached anyway, or a regular
 * file on tmpfs) we fall back to buffered I/O and drop the device's cache before reading back.
 */
import { constants, promises as fsp, readSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { basename } from 'node:path';
import { promisify } from 'node:util';
import { AtlasError, throwIfCancelled, toAtlasError } from '../errors';
import { blockDeviceSize, makeBlockFile, readFullyAt, writeFullyAt, type BlockFile } from './block-file';
import { FdHandle, type DeviceHandle } from './fd-handle';

const execFileAsync = promisify(execFile);
const PROBE = 4096;

export interface DirectDevice {
  readonly path: string;
  readonly handle: DeviceHandle;
  /** true when opened with O_DIRECT: buffers must come from alignedBuffer() */
  readonly direct: boolean;
  readonly size: number;
  readonly isBlockDevice: boolean;
  /** Logical sector size: O_DIRECT lengths and offsets are multiples of it. */
  readonly sectorSize: number;
}

/**
 * Opens a device (or image file) for writing and reading back. `exclusive` adds O_EXCL on block devices,
 * which fails with EBUSY while a partition is mounted or another program holds the device exclusively.
 */
export async function openDirect(
  path: string,
  options: { write: boolean; exclusive?: boolean; direct?: boolean },
): Promise<DirectDevice> {
  const st = await fsp.stat(path).catch((error: unknown) => {
    throw toAtlasError(error, `Cannot open ${path}`);
  });
  const isBlockDevice = st.isBlockDevice();
  let flags = options.write ? constants.O_RDWR : constants.O_RDONLY;
  if (options.exclusive && isBlockDevice) flags |= constants.O_EXCL;
  const wantDirect = options.direct !== false && typeof constants.O_DIRECT === 'number';
  let handle: DeviceHandle | null = null;
  let direct = false;
  try {
    if (wantDirect) {
      handle = await fsp.open(path, flags | constants.O_DIRECT).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'EINVAL') return null; // the filesystem does not support O_DIRECT
        throw error;
      });
      direct = handle !== null;
    }
    handle ??= await fsp.open(path, flags);
  } catch (error) {
    const sys = error as NodeJS.ErrnoException;
    if (sys.code === 'EBUSY') {
      throw new AtlasError(
        'TARGET_MOUNTED',
        `${path} is in use (mounted, or opened by another program). Unmount it and close other imaging tools.`,
        { device: path },
      );
    }
    throw toAtlasError(error, `Cannot open ${path}`);
  }
  try {
    const size = isBlockDevice ? await blockDeviceSize(path) : st.size;
    const sectorSize = isBlockDevice ? await logicalSectorSize(path) : 512;
    return { path, handle, direct, size, isBlockDevice, sectorSize };
  } catch (error) {
    await handle.close();
    throw toAtlasError(error, `Cannot open ${path}`);
  }
}

/** The logical sector size of a block device (sysfs; 512 where unknown). */
export async function logicalSectorSize(path: string): Promise<number> {
  if (process.platform !== 'linux') return 512;
  try {
    const real = await fsp.realpath(path);
    const text = await fsp.readFile(`/sys/class/block/${basename(real)}/queue/logical_block_size`, 'utf8');
    const n = Number(text.trim());
    return n > 0 ? n : 512;
  } catch {
    return 512;
  }
}

/**
 * A buffer of `size` bytes whose address suits O_DIRECT on every given device (probed with a harmless read
 * of their first 4 KiB). Devices opened without O_DIRECT accept any buffer. `shared` puts it in a
 * SharedArrayBuffer (see hash-pool.ts).
 */
export function alignedBuffer(
  size: number,
  devices: readonly DirectDevice[],
  options: { shared?: boolean } = {},
): Buffer {
  // shared: in a SharedArrayBuffer, so a worker can hash it in place while the main thread writes it
  const raw = pageAlignedMemory(size + PROBE, options.shared === true);
  const direct = devices.filter((d) => d.direct && d.size >= PROBE);
  if (direct.length === 0) return raw.subarray(0, size);
  // offset 0 is page-aligned and suits any device; the steps are there in case one wants something odder
  for (let offset = 0; offset < PROBE; offset += 16) {
    if (direct.every((d) => probe(d, raw, offset))) return raw.subarray(offset, offset + size);
  }
  throw new AtlasError('UNSUPPORTED', `Cannot find an aligned buffer for direct I/O on ${direct[0]!.path}.`);
}

/**
 * Memory that starts on a page boundary: a WebAssembly memory, which V8 maps by whole pages. A malloc'd buffer
 * starts 16 bytes past one, and the first offset O_DIRECT accepts (512-byte aligned) then leaves every 4 MiB
 * block straddling 1025 pages: measured 1.44-2.22 s against 1.14-1.38 s page-aligned for a 1 GiB read + write
 * loop to a loop device, the kernel copying each block in misaligned pieces.
 */
function pageAlignedMemory(size: number, shared: boolean): Buffer {
  const pages = Math.ceil(size / WASM_PAGE);
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, ...(shared ? { shared } : {}) });
  return Buffer.from(memory.buffer);
}

const WASM_PAGE = 64 * 1024;

// the slice of the WebAssembly API used here (the project's TypeScript libs carry no DOM/wasm types)
declare const WebAssembly: {
  Memory: new (descriptor: { initial: number; maximum: number; shared?: boolean }) => {
    buffer: ArrayBuffer | SharedArrayBuffer;
  };
};

function probe(device: DirectDevice, buffer: Buffer, offset: number): boolean {
  try {
    readSync(device.handle.fd, buffer, offset, PROBE, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Makes the next reads of a buffered (non-O_DIRECT) device come from the medium: BLKFLSBUF through
 * `blockdev --flushbufs`. Measured on a loop device it costs a few ms, far less than a read pass.
 */
export async function dropDeviceCache(device: DirectDevice): Promise<void> {
  if (device.direct || !device.isBlockDevice || process.platform !== 'linux') return;
  try {
    await execFileAsync('blockdev', ['--flushbufs', device.path]);
  } catch (error) {
    throw new AtlasError(
      'IO_ERROR',
      `Cannot drop the cache of ${device.path} before verifying.`,
      {},
      { cause: error },
    );
  }
}

/** Writes all of `buffer[0, length)` at `position`. */
export function writeFully(
  device: DirectDevice,
  buffer: Buffer,
  length: number,
  position: number,
): Promise<void> {
  return writeFullyAt(
    device.handle,
    buffer,
    position,
    length,
    (at) => new AtlasError('TARGET_TOO_SMALL', `${device.path} accepted no more data at byte ${at}.`),
  );
}

/** Reads `length` bytes at `position`; returns fewer only at the end of the device. */
export function readFully(
  device: DirectDevice,
  buffer: Buffer,
  length: number,
  position: number,
): Promise<number> {
  return readFullyAt(device.handle, buffer, position, length);
}

/** A block of a sequential read: `length` bytes of `buffer`, from byte `position` of the whole. */
export interface Block {
  buffer: Buffer;
  length: number;
  position: number;
}

/** What O_DIRECT lengths are rounded up to: the device's sector, or a page for a file (any filesystem's). */
export function directUnit(device: DirectDevice): number {
  return device.isBlockDevice ? device.sectorSize : 4096;
}

/**
 * Reads [start, end) of a device or file in blocks of the pool's buffer size, block k into pool[k % length],
 * with `ahead` reads in flight so the disk never waits on the consumer (the reuse rule is readAhead's). A
 * block shorter than asked (the end of a device that was removed, a file that shrank) is the last one
 * yielded. O_DIRECT asks whole sectors: the last block is asked rounded up and comes back at its true length.
 */
export function readBlocks(
  device: DirectDevice,
  pool: readonly Buffer[],
  options: {
    end: number;
    start?: number;
    ahead?: number;
    signal?: AbortSignal | undefined | undefined;
    /** only these blocks (indices of buffer-sized blocks from `start`, ascending): the others are skipped */
    only?: readonly number[];
  },
): AsyncGenerator<Block> {
  const { end, start = 0, only } = options;
  const blockSize = pool[0]!.length;
  // the k-th block handed out starts here
  const at = (k: number): number => start + (only ? only[k]! : k) * blockSize;
  const want = (k: number): number => Math.min(blockSize, end - at(k));
  const unit = directUnit(device);
  return readAhead(pool, {
    ...options,
    count: only ? only.length : Math.ceil(Math.max(0, end - start) / blockSize),
    position: at,
    want,
    read: (k, buffer) => {
      const ask = device.direct ? Math.min(blockSize, Math.ceil(want(k) / unit) * unit) : want(k);
      return readFully(device, buffer, ask, at(k)).then((got) => Math.min(got, want(k)));
    },
  });
}

/**
 * The read-ahead loop under readBlocks and the FIFO's blocks (fifo-blocks.ts): block k is read into
 * pool[k % pool.length] by `read`, which resolves to the bytes it got, with `ahead` reads in flight. The buffer
 * of block k is read into again as block k + pool.length - ahead is handed out: a caller asking for the next
 * block may still be using at most pool.length - ahead - 1 earlier blocks. A block that got less than
 * `want(k)` is the last one yielded; `count` bounds the blocks (Infinity: until one comes back short).
 */
export async function* readAhead(
  pool: readonly Buffer[],
  options: {
    count: number;
    ahead?: number;
    signal?: AbortSignal | undefined | undefined;
    position: (k: number) => number;
    want: (k: number) => number;
    read: (k: number, buffer: Buffer) => Promise<number>;
  },
): AsyncGenerator<Block> {
  const { count, ahead = 1, signal, position, want, read } = options;
  if (ahead < 1 || ahead >= pool.length) {
    throw new AtlasError('INTERNAL', `${ahead} reads ahead need more than ${pool.length} buffers.`);
  }
  const pending: Array<Promise<number>> = [];
  let issued = 0;
  const issue = (): void => {
    while (issued < count && pending.length < ahead) {
      const k = issued++;
      const reading = read(k, pool[k % pool.length]!);
      reading.catch(() => undefined); // awaited in order below; not unhandled meanwhile
      pending.push(reading);
    }
  };
  try {
    for (let k = 0; k < count; k++) {
      issue();
      const got = await pending.shift()!;
      throwIfCancelled(signal);
      const last = got < want(k);
      if (!last) issue();
      yield { buffer: pool[k % pool.length]!, length: got, position: position(k) };
      if (last) return;
    }
  } finally {
    await Promise.allSettled(pending.splice(0));
  }
}

/**
 * A device already open on `fd` (inherited from the root broker, see main/helper/): its size and logical
 * sector size come from the drive listing the broker checked, not from a device node the person cannot read.
 */
export function deviceFromFd(
  fd: number,
  facts: { path: string; size: number; sectorSize: number; direct: boolean; isBlockDevice: boolean },
): DirectDevice {
  return { ...facts, handle: new FdHandle(fd) };
}

/** The same device through the BlockFile interface (partition tables, clone's reads, restore's writes). */
export function blockFileOf(device: DirectDevice): BlockFile {
  return makeBlockFile(device.path, device.handle, device.size, device.isBlockDevice);
}
