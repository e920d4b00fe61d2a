// Bitmap helpers against a naive bit-by-bit reference on random bitmaps.
import test from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  clearBitRange,
  countBits,
  countUsed,
  isBlockUsed,
  setBitRange,
  setPaddingBits,
  usedRuns,
} from '../../main/engine/fs/bitmap';

function naiveBit(b: Uint8Array, i: number): boolean {
  return ((b[Math.floor(i / 8)]! >> (i % 8)) & 1) === 1;
}

function naiveCount(b: Uint8Array, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) if (naiveBit(b, i)) n++;
  return n;
}

/** Random bitmaps with long runs of ones and zeros as well as noise, at odd byte offsets of their buffer. */
function randomBitmap(bytes: number, offset: number): Uint8Array {
  const backing = new Uint8Array(bytes + offset);
  const noise = randomBytes(bytes);
  for (let i = 0; i < bytes; i++) {
    const mode = Math.floor(i / 37) % 3;
    backing[offset + i] = mode === 0 ? 0 : mode === 1 ? 0xff : noise[i]!;
  }
  return backing.subarray(offset);
}

test('countBits and countUsed equal a bit-by-bit count on any range and alignment', () => {
  for (let trial = 0; trial < 200; trial++) {
    const b = randomBitmap(1 + Math.floor(Math.random() * 300), trial % 5);
    const total = b.length * 8;
    const from = Math.floor(Math.random() * total);
    const to = from + Math.floor(Math.random() * (total - from + 1));
    assert.equal(countBits(b, from, to), naiveCount(b, from, to), `range ${from}..${to} of ${total}`);
    const t = Math.max(0, total - (trial % 8));
    assert.equal(countUsed(b, t), naiveCount(b, 0, t));
  }
  assert.equal(countBits(new Uint8Array([0xff]), 5, 3), 0);
});

test('isBlockUsed reads bit i % 8 of byte i / 8, LSB first', () => {
  const b = new Uint8Array([0b0000_0101, 0b1000_0000]);
  assert.deepEqual(
    Array.from({ length: 16 }, (_, i) => isBlockUsed(b, i)),
    Array.from({ length: 16 }, (_, i) => i === 0 || i === 2 || i === 15),
  );
});

test('setBitRange and clearBitRange change exactly [from, to)', () => {
  for (let trial = 0; trial < 200; trial++) {
    const b = randomBitmap(40, 0);
    const copy = Uint8Array.from(b);
    const from = Math.floor(Math.random() * 320);
    const to = from + Math.floor(Math.random() * (320 - from + 1));
    const set = trial % 2 === 0;
    (set ? setBitRange : clearBitRange)(b, from, to);
    for (let i = 0; i < 320; i++) {
      const expected = i >= from && i < to ? set : naiveBit(copy, i);
      assert.equal(naiveBit(b, i), expected, `bit ${i} after ${set ? 'set' : 'clear'} ${from}..${to}`);
    }
  }
});

test('setPaddingBits sets the bits after the last block and nothing else', () => {
  const b = new Uint8Array(3);
  setPaddingBits(b, 19);
  assert.deepEqual([...b], [0, 0, 0b1111_1000]);
  const full = new Uint8Array(2);
  setPaddingBits(full, 16);
  assert.deepEqual([...full], [0, 0]);
});

test('usedRuns covers exactly the used blocks below totalBlocks, coalesced, in order, within the limit', () => {
  for (let trial = 0; trial < 100; trial++) {
    const b = randomBitmap(1 + Math.floor(Math.random() * 200), 0);
    const totalBlocks = Math.max(1, b.length * 8 - (trial % 8));
    const max = trial % 3 === 0 ? Infinity : 1 + Math.floor(Math.random() * 40);
    const seen = new Uint8Array(totalBlocks);
    let prevEnd = -1;
    let prevCount = 0;
    for (const { first, count } of usedRuns({ bitmap: b, totalBlocks }, max)) {
      assert.ok(count >= 1 && count <= max, `run length ${count}, limit ${max}`);
      assert.ok(first >= prevEnd, 'runs ascend and do not overlap');
      // two runs touch only when the first one was cut at the limit
      if (first === prevEnd) assert.equal(prevCount, max);
      assert.ok(first + count <= totalBlocks);
      for (let i = first; i < first + count; i++) seen[i] = 1;
      prevEnd = first + count;
      prevCount = count;
    }
    for (let i = 0; i < totalBlocks; i++) assert.equal(seen[i] === 1, naiveBit(b, i), `block ${i}`);
  }
});
