/**
 * The used-block bitmap in partclone's BM_BIT form (LSB-first, block i ↔ bit i%8 of byte i>>3) and the
 * walks over it that the reader and the writer share.
 */

const POPCOUNT = new Uint8Array(256);
for (let i = 1; i < 256; i++) POPCOUNT[i] = (i & 1) + POPCOUNT[i >> 1]!;

/** Set bits among the first `totalBlocks` bits (padding bits past the end are ignored). */
export function countUsedBlocks(bitmap: Uint8Array, totalBlocks: number): number {
  const fullBytes = totalBlocks >>> 3;
  let count = 0;
  for (let i = 0; i < fullBytes; i++) count += POPCOUNT[bitmap[i]!]!;
  const rest = totalBlocks & 7;
  if (rest) count += POPCOUNT[bitmap[fullBytes]! & ((1 << rest) - 1)]!;
  return count;
}

export function isBlockUsed(bitmap: Uint8Array, block: number): boolean {
  return (bitmap[block >>> 3]! & (1 << (block & 7))) !== 0;
}

/**
 * Runs of consecutive used blocks below totalBlocks, in ascending order: [firstBlock, count].
 * Skips whole 0x00 and 0xFF bytes at once, so sparse and dense maps are both quick.
 */
export function* usedRuns(bitmap: Uint8Array, totalBlocks: number): Generator<[number, number]> {
  let start = -1;
  let block = 0;
  while (block < totalBlocks) {
    const byte = bitmap[block >>> 3]!;
    if ((block & 7) === 0 && block + 8 <= totalBlocks && (byte === 0 || byte === 0xff)) {
      if (byte === 0xff) {
        if (start < 0) start = block;
      } else if (start >= 0) {
        yield [start, block - start];
        start = -1;
      }
      block += 8;
      continue;
    }
    if (byte & (1 << (block & 7))) {
      if (start < 0) start = block;
    } else if (start >= 0) {
      yield [start, block - start];
      start = -1;
    }
    block++;
  }
  if (start >= 0) yield [start, totalBlocks - start];
}

/** partclone's BM_BYTE bitmap (one byte per block, 1 = used) as BM_BIT, padding bits set to 1. */
export function byteMapToBitmap(bytes: Uint8Array, totalBlocks: number): Uint8Array {
  const bitmap = new Uint8Array(Math.ceil(totalBlocks / 8));
  for (let i = 0; i < totalBlocks; i++) if (bytes[i] === 1) bitmap[i >>> 3] |= 1 << (i & 7);
  setPaddingBits(bitmap, totalBlocks);
  return bitmap;
}

/** Sets the bits past totalBlocks in the last byte, as partclone's ext and FAT modules leave them. */
export function setPaddingBits(bitmap: Uint8Array, totalBlocks: number): void {
  const rest = totalBlocks & 7;
  if (rest) bitmap[totalBlocks >>> 3] |= 0xff << rest;
}
