/**
 * Reads at any position through whole 4 KiB-aligned units: raw disk devices (macOS /dev/rdiskN, Linux
 * O_DIRECT) reject reads whose offset or length is not a multiple of the sector size.
 */
import type { BlockFile } from '../io/block-file';
import { AtlasError } from '../errors';

const ALIGN = 4096;

/** `length` bytes at `position`; past the end of the file they read as zeros unless `exact`, then TRUNCATED. */
export async function readAligned(
  file: BlockFile,
  position: number,
  length: number,
  options: { exact?: boolean } = {},
): Promise<Uint8Array> {
  const start = Math.floor(position / ALIGN) * ALIGN;
  const end = Math.ceil((position + length) / ALIGN) * ALIGN;
  const buf = new Uint8Array(end - start);
  const got = await file.read(buf, start, end - start);
  if (options.exact && start + got < position + length) {
    throw new AtlasError(
      'TRUNCATED',
      `${file.path} ends at byte ${start + got}, expected ${position + length}.`,
    );
  }
  return buf.subarray(position - start, position - start + length);
}
