/**
 * Insert's step 2: the base, copied to `NAME.img.partial` — cloned where the filesystem can (APFS, btrfs, XFS),
 * copied with GNU cp on Linux (its data extents only, in the kernel), decompressed for a compressed base; holes
 * stay holes throughout. The partial is claimed first (an empty file created exclusively), so a second insert
 * of the same name is refused, not interleaved.
 *
 * The image will hold atlas_secrets.conf: it is its owner's alone from the first byte (GOLDEN_IMAGE_MODE), and
 * no step widens it.
 */
import { constants, createReadStream, promises as fsp, type Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { AtlasError, throwIfCancelled, toAtlasError } from '../../errors';
import { ProgressMeter, type ProgressListener } from '../../progress';
import type { ImageSource } from '../../compress/source';
import { freeSpace } from '../../io/free-space';
import { formatBytes } from '../../format';

/** A golden image holds the secrets: read and write for its owner only. */
export const GOLDEN_IMAGE_MODE = 0o600;

/** Creates `path` exclusively (mode GOLDEN_IMAGE_MODE); `force` replaces one left by an interrupted insert. */
export async function claimPartial(path: string, force: boolean): Promise<FileHandle> {
  try {
    return await fsp.open(path, 'wx', GOLDEN_IMAGE_MODE);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST')
      throw toAtlasError(error, 'Cannot create the output');
    if (!force) {
      throw new AtlasError(
        'ALREADY_EXISTS',
        `${path} exists: another insert is writing it, or an earlier one was interrupted. Delete it, or replace the existing image, and try again.`,
      );
    }
    await fsp.rm(path, { force: true });
    return fsp.open(path, 'wx', GOLDEN_IMAGE_MODE);
  }
}

/**
 * Copies with GNU cp (`--sparse=auto --reflink=auto`) into the claimed partial (an existing file keeps its
 * mode): holes stay holes and a CoW filesystem clones. False when there is no such cp (the caller copies
 * otherwise); CANCELLED kills it.
 */
export function copyWithCp(from: string, to: string, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn('cp', ['--sparse=auto', '--reflink=auto', '--', from, to], {
      stdio: ['ignore', 'ignore', 'pipe'],
      ...(signal ? { signal } : {}),
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ABORT_ERR') reject(new AtlasError('CANCELLED', 'The operation was cancelled.'));
      else resolvePromise(false);
    });
    child.on('close', (code) => {
      if (code === 0) resolvePromise(true);
      else if (/unrecognized option|illegal option|invalid option/i.test(stderr)) resolvePromise(false);
      else if (/No space left/i.test(stderr)) {
        reject(new AtlasError('TARGET_TOO_SMALL', `No space left in ${dirname(to)} for a copy of ${from}.`));
      } else
        reject(new AtlasError('IO_ERROR', `Copying ${from} failed: ${stderr.trim() || `cp exited ${code}`}`));
    });
  });
}

/**
 * A copy-on-write clone of `from` (APFS, btrfs, XFS) in place of the claimed, empty `partial`. A clone creates
 * its destination (macOS's clonefile refuses an existing one, and fell back to copying every byte when this
 * cloned over the claim) and takes the base's mode: so it is made in a fresh private folder beside the partial,
 * narrowed there, then renamed over the claim. False when the filesystem cannot clone: the caller copies.
 */
export async function cloneOver(from: string, partial: string): Promise<boolean> {
  const dir = await fsp.mkdtemp(join(dirname(partial), '.atlas-clone-'));
  try {
    const clone = join(dir, 'image');
    try {
      // EXCL: refuse an existing destination on Linux too, as macOS does, so Linux tests hold this path to it
      await fsp.copyFile(from, clone, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE_FORCE);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOSPC' || code === 'ENOENT' || code === 'EACCES' || code === 'EPERM') throw error;
      return false;
    }
    await fsp.chmod(clone, GOLDEN_IMAGE_MODE);
    await fsp.rename(clone, partial);
    return true;
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
}

/** Hole granularity of the copy: small enough to keep a base's holes, large enough to keep writes few. */
const SPARSE_BLOCK = 64 * 1024;
const ZERO = Buffer.alloc(SPARSE_BLOCK);

/** Blocks a compressed base is decompressed in (written before the next is taken). */
const DECOMPRESS_BLOCK = 4 * 1024 * 1024;

async function writeAll(out: FileHandle, data: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const { bytesWritten } = await out.write(data, done, data.length - done, position + done);
    done += bytesWritten;
  }
}

export interface Written {
  bytes: number;
  /** of every byte written (holes included) */
  sha256: string;
}

/**
 * Writes a stream of image bytes into `out`, hashing them, and leaving all-zero blocks as holes: images are
 * mostly empty space, and a sparse output is both faster to write and what `cp` makes of a sparse base.
 */
async function writeSparse(
  stream: AsyncIterable<Buffer>,
  out: FileHandle,
  meter: ProgressMeter,
  signal?: AbortSignal | undefined,
): Promise<Written> {
  const hash = createHash('sha256');
  let position = 0;
  for await (const chunk of stream) {
    throwIfCancelled(signal);
    hash.update(chunk);
    // runs of blocks holding data, written one run at a time
    let runStart = -1;
    for (let at = 0; at <= chunk.length; at += SPARSE_BLOCK) {
      const block = chunk.subarray(at, Math.min(chunk.length, at + SPARSE_BLOCK));
      const hasData = block.length > 0 && !block.equals(ZERO.subarray(0, block.length));
      if (hasData && runStart < 0) runStart = at;
      if (!hasData && runStart >= 0) {
        await writeAll(out, chunk.subarray(runStart, at), position + runStart);
        runStart = -1;
      }
    }
    if (runStart >= 0) await writeAll(out, chunk.subarray(runStart), position + runStart);
    position += chunk.length;
    meter.set(position);
  }
  await out.truncate(position);
  return { bytes: position, sha256: hash.digest('hex') };
}

/** One pass over a raw base: read, hash, and write only the blocks that hold data into the claimed partial. */
export async function copyInProcess(
  from: string,
  out: FileHandle,
  size: number,
  detail: string,
  control: { signal?: AbortSignal | undefined | undefined; onProgress?: ProgressListener | undefined },
): Promise<Written> {
  const meter = new ProgressMeter('copying', size, control.onProgress, { detail });
  const stream = createReadStream(from, {
    highWaterMark: 4 << 20,
    ...(control.signal ? { signal: control.signal } : {}),
  });
  const written = await writeSparse(stream, out, meter, control.signal);
  meter.finish();
  return written;
}

/** A compressed base, decompressed into the claimed partial; the hash is of the image (the decompressed bytes). */
export async function decompressInto(
  source: ImageSource,
  out: FileHandle,
  detail: string,
  control: { signal?: AbortSignal | undefined | undefined; onProgress?: ProgressListener | undefined },
): Promise<Written> {
  const { signal, onProgress } = control;
  const meter = new ProgressMeter('decompressing', source.size ?? source.estimate, onProgress, { detail });
  // in whole blocks: a decoder tool's output comes through a worker, not as 8 KiB stream chunks
  const pool = [0, 1].map(() => Buffer.from(new SharedArrayBuffer(DECOMPRESS_BLOCK)));
  const chunks = async function* (): AsyncGenerator<Buffer> {
    for await (const block of source.readBlocks(pool, signal ? { signal } : {})) {
      yield block.buffer.subarray(0, block.length);
    }
  };
  const written = await writeSparse(chunks(), out, meter, signal);
  meter.finish();
  return written;
}

/** Room for the manifest, the injected files and the filesystem's own bookkeeping. */
const ROOM_MARGIN = 16 * 1024 * 1024;

/**
 * Refuses before copying when the output folder cannot hold a copy of a raw base (its allocated bytes: holes
 * stay holes). Only told in advance when the folder is on another filesystem than the base: on the same one a
 * reflink may need no space at all. A compressed base's size on disk is known only once written; running
 * out then fails the same way (TARGET_TOO_SMALL), and the partial is removed.
 */
export async function checkRoomForCopy(outDir: string, baseStat: Stats): Promise<void> {
  const outStat = await fsp.stat(outDir);
  if (outStat.dev === baseStat.dev) return;
  const need = baseStat.blocks * 512 + ROOM_MARGIN;
  const free = await freeSpace(outDir).catch(() => Infinity);
  if (free < need) {
    throw new AtlasError(
      'TARGET_TOO_SMALL',
      `Not enough space in ${outDir} for the golden image: it needs about ${formatBytes(need)}, ` +
        `${formatBytes(free)} is free. Free some space or choose another output folder.`,
      { outDir, need, free },
    );
  }
}
