/**
 * Bit operations on partclone-style bitmaps (block i ⇔ bit i % 8 of byte i >> 3, LSB first), shared by the
 * filesystem readers and by whoever walks a used-block map (clone, flash, restore).
 */
import type { UsedBlockMap } from './types';

/** popcount of every byte value */
const POP = new Uint8Array(256);
for (let i = 1; i < 256; i++) POP[i] = (i & 1) + POP[i >> 1]!;

export function isBlockUsed(bitmap: Uint8Array, i: number): boolean {
  return (bitmap[i >>> 3]! & (1 << (i & 7))) !== 0;
}

/** Set bits in [from, to). */
export function countBits(bitmap: Uint8Array, from: number, to: number): number {
  if (to <= from) return 0;
  let count = 0;
  let i = from;
  // leading partial byte
  while (i < to && i & 7) {
    if (bitmap[i >>> 3]! & (1 << (i & 7))) count++;
    i++;
  }
  const wholeEnd = to & ~7;
  if (i < wholeEnd) {
    let byte = i >>> 3;
    const lastByte = wholeEnd >>> 3;
    // 32 bits at a time once aligned; the byte table covers the ends
    while (byte < lastByte && (bitmap.byteOffset + byte) & 3) count += POP[bitmap[byte++]!]!;
    const nWords = (lastByte - byte) >>> 2;
    if (nWords > 0) {
      const words = new Uint32Array(bitmap.buffer, bitmap.byteOffset + byte, nWords);
      for (let w = 0; w < nWords; w++) {
        let v = words[w]!;
        v = v - ((v >>> 1) & 0x55555555);
        v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
        count += Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24;
      }
      byte += nWords * 4;
    }
    while (byte < lastByte) count += POP[bitmap[byte++]!]!;
    i = wholeEnd;
  }
  while (i < to) {
    if (bitmap[i >>> 3]! & (1 << (i & 7))) count++;
    i++;
  }
  return count;
}

/** Set bits below `total` (padding bits after the last block are ignored). */
export function countUsed(bitmap: Uint8Array, total: number): number {
  return countBits(bitmap, 0, total);
}

/** Sets bits [from, to) to 1. */
export function setBitRange(bitmap: Uint8Array, from: number, to: number): void {
  let i = from;
  while (i < to && i & 7) bitmap[i >>> 3]! |= 1 << (i++ & 7);
  if (i < (to & ~7)) {
    bitmap.fill(0xff, i >>> 3, to >>> 3);
    i = to & ~7;
  }
  while (i < to) bitmap[i >>> 3]! |= 1 << (i++ & 7);
}

/** Sets to 1 the bits after `total` in the last byte: partclone writes them as used. */
export function setPaddingBits(bitmap: Uint8Array, total: number): void {
  setBitRange(bitmap, total, bitmap.length * 8);
}

export interface BlockRun {
  first: number;
  count: number;
}

/**
 * Coalesced runs of used blocks in ascending order, each at most `maxRunBlocks` long, for reading the used
 * blocks in large sequential reads. Padding bits are not part of any run.
 */
export function* usedRuns(
  map: Pick<UsedBlockMap, 'bitmap' | 'totalBlocks'>,
  maxRunBlocks = Infinity,
): Iterable<BlockRun> {
  const { bitmap, totalBlocks } = map;
  const limit = Math.max(1, Math.floor(maxRunBlocks));
  let i = 0;
  while (i < totalBlocks) {
    // skip free blocks quickly, a whole zero byte at a time
    const byte = bitmap[i >>> 3]!;
    if ((i & 7) === 0 && byte === 0) {
      i += 8;
      continue;
    }
    if ((byte & (1 << (i & 7))) === 0) {
      i++;
      continue;
    }
    const first = i;
    while (i < totalBlocks && i - first < limit) {
      const b = bitmap[i >>> 3]!;
      if ((i & 7) === 0 && b === 0xff && i + 8 <= totalBlocks && i + 8 - first <= limit) {
        i += 8;
        continue;
      }
      if ((b & (1 << (i & 7))) === 0) break;
      i++;
    }
    yield { first, count: i - first };
  }
}

/** Clears bits [from, to). */
export function clearBitRange(bitmap: Uint8Array, from: number, to: number): void {
  let i = from;
  while (i < to && i & 7) bitmap[i >>> 3]! &= ~(1 << (i++ & 7));
  if (i < (to & ~7)) {
    bitmap.fill(0, i >>> 3, to >>> 3);
    i = to & ~7;
  }
  while (i < to) bitmap[i >>> 3]! &= ~(1 << (i++ & 7));
}
