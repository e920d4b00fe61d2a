/**
 * partclone's BM_BYTE bitmap (v1 images: one byte per block, 1 = used) turned into the BM_BIT form every
 * other part of Atlas uses; the bit operations themselves live in fs/bitmap.ts.
 */
import { setPaddingBits } from '../fs/bitmap';

/** BM_BYTE → BM_BIT (LSB-first), padding bits set to 1 as partclone leaves them. */
export function byteMapToBitmap(bytes: Uint8Array, totalBlocks: number): Uint8Array {
  const bitmap = new Uint8Array(Math.ceil(totalBlocks / 8));
  for (let i = 0; i < totalBlocks; i++)
    if (bytes[i] === 1) bitmap[i >>> 3] = bitmap[i >>> 3]! | (1 << (i & 7));
  setPaddingBits(bitmap, totalBlocks);
  return bitmap;
}
