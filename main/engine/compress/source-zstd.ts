/**
 * zstd specifics: the uncompressed size from the frame headers (walking block headers, never decoding),
 * and the in-process decoder (zstd-napi) used when the zstd binary is missing.
 */
import { promises as fsp } from 'node:fs';
import { basename } from 'node:path';
import type { Transform } from 'node:stream';
import type * as ZstdNapi from 'zstd-napi';
import { AtlasError } from '../errors';

const FRAME_MAGIC = 0xfd2fb528;

let loaded: typeof ZstdNapi | null = null;

/**
 * Loaded on first use: it is a native addon, and a machine where it failed to build should still open
 * every other format (and zstd through the binary). Throws UNSUPPORTED when it cannot load.
 */
export function loadZstdNapi(): typeof ZstdNapi {
  if (loaded) return loaded;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    loaded = require('zstd-napi') as typeof ZstdNapi;
    return loaded;
  } catch (error) {
    throw new AtlasError(
      'UNSUPPORTED',
      'This build of Atlas cannot decompress .zst images (zstd-napi is missing) and no zstd program was found. ' +
        'Install zstd, or use .img.xz.',
      {},
      { cause: error },
    );
  }
}

export function createZstdNapiStream(): Transform {
  return new (loadZstdNapi().DecompressStream)();
}

/**
 * Sum of the frames' content sizes, or null when a frame does not record its size (zstd fed from a pipe).
 * Truncation or garbage in the frame structure → CORRUPT_ARCHIVE.
 */
export async function zstdContentSize(path: string, fileSize: number): Promise<number | null> {
  const handle = await fsp.open(path, 'r');
  // Block headers are small and far apart; a small read window at each one is enough.
  const window = Buffer.alloc(64);
  let windowStart = -1;
  let windowLength = 0;
  const byteAt = async (position: number, count: number): Promise<Buffer> => {
    if (position + count > fileSize) throw new Error('the file ends inside a frame (truncated)');
    if (windowStart < 0 || position < windowStart || position + count > windowStart + windowLength) {
      windowStart = position;
      windowLength = (await handle.read(window, 0, window.length, position)).bytesRead;
      if (windowLength < count) throw new Error('short read');
    }
    return window.subarray(position - windowStart, position - windowStart + count);
  };
  try {
    let position = 0;
    let total = 0;
    let sized = true;
    while (position < fileSize) {
      const magic = (await byteAt(position, 4)).readUInt32LE(0);
      if ((magic & 0xfffffff0) === 0x184d2a50) {
        const length = (await byteAt(position + 4, 4)).readUInt32LE(0);
        position += 8 + length;
        continue;
      }
      if (magic !== FRAME_MAGIC) throw new Error(`no zstd frame at byte ${position}`);
      const descriptor = (await byteAt(position + 4, 1))[0]!;
      const fcsFlag = descriptor >> 6;
      const singleSegment = (descriptor >> 5) & 1;
      const hasChecksum = (descriptor >> 2) & 1;
      const dictIdSize = [0, 1, 2, 4][descriptor & 3]!;
      const fcsSize = [singleSegment ? 1 : 0, 2, 4, 8][fcsFlag]!;
      let offset = position + 5 + (singleSegment ? 0 : 1) + dictIdSize;
      if (fcsSize === 0) {
        sized = false;
      } else {
        const raw = await byteAt(offset, fcsSize);
        const value =
          fcsSize === 1
            ? raw[0]!
            : fcsSize === 2
              ? raw.readUInt16LE(0) + 256
              : fcsSize === 4
                ? raw.readUInt32LE(0)
                : Number(raw.readBigUInt64LE(0));
        total += value;
      }
      offset += fcsSize;
      for (;;) {
        const header = await byteAt(offset, 3);
        const word = header[0]! | (header[1]! << 8) | (header[2]! << 16);
        const last = word & 1;
        const type = (word >> 1) & 3;
        const blockSize = word >>> 3;
        if (type === 3) throw new Error(`reserved block type at byte ${offset}`);
        offset += 3 + (type === 1 ? 1 : blockSize);
        if (last) break;
      }
      offset += hasChecksum ? 4 : 0;
      if (offset > fileSize) throw new Error('the file ends inside a frame (truncated)');
      position = offset;
    }
    return sized ? total : null;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new AtlasError(
      'CORRUPT_ARCHIVE',
      `The archive ${basename(path)} is damaged or truncated (zstd: ${reason}). Download or copy it again.`,
      { path, format: 'zstd', reason },
      { cause: error },
    );
  } finally {
    await handle.close();
  }
}
