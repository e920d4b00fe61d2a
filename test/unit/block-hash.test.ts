/**
 * The block hash (io/hash-pool.ts) the same every way it is computed: the addon's C XXH64 on libuv's threads,
 * hash-wasm inline and hash-wasm on worker threads over shared memory, all against `xxhsum -H1` (the xxHash
 * project's own tool) on lengths around every branch of the algorithm (the 32-byte stripes, the 8-, 4- and
 * 1-byte tails) and in segments, as restore and flash call it.
 */
import test, { after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadAddon } from '../../main/engine/io/addon';
import { BlockHasher } from '../../main/engine/io/hash-pool';
import { run, scratchDir } from '../support/sh';

const { dir, cleanup } = scratchDir('atlas-block-hash-');
const hashers: BlockHasher[] = [];
after(async () => {
  await Promise.all(hashers.map((h) => h.close()));
  cleanup();
});

function xxhsum(data: Uint8Array): string {
  const file = join(dir, 'piece');
  writeFileSync(file, data);
  return run('xxhsum', ['-H1', file]).split(/\s+/)[0]!;
}

/** `data` copied into a SharedArrayBuffer, the memory the flash's hashing workers read in place. */
function shared(data: Uint8Array): Buffer {
  const out = Buffer.from(new SharedArrayBuffer(data.length));
  out.set(data);
  return out;
}

const LENGTHS = [0, 1, 3, 4, 5, 7, 8, 9, 15, 16, 31, 32, 33, 35, 39, 40, 63, 64, 65, 100, 4096, 1048589];

test('the addon is built beside the engine and has the hash', () => {
  const addon = loadAddon();
  assert.ok(addon, 'out/native/atlas_io.node did not load');
  assert.equal(typeof addon.xxh64Segments, 'function');
});

test('XXH64 from the addon, hash-wasm inline and hash-wasm on workers equals xxhsum', async () => {
  const native = new BlockHasher(0);
  const inline = new BlockHasher(0, { native: false });
  const workers = new BlockHasher(2, { native: false });
  hashers.push(native, inline, workers);
  for (const length of LENGTHS) {
    const data = randomBytes(length + 3).subarray(3); // not at the start of its memory
    const expected = xxhsum(data);
    assert.equal(await native.hash(data, length), expected, `native, ${length} bytes`);
    assert.equal(await inline.hash(data, length), expected, `inline, ${length} bytes`);
    assert.equal(await workers.hash(shared(data), length), expected, `workers, ${length} bytes`);
  }
});

test('segments: each piece hashed on its own, the last one shorter, only `length` bytes of the view', async () => {
  const native = new BlockHasher(0);
  const inline = new BlockHasher(0, { native: false });
  hashers.push(native, inline);
  const segment = 1024 * 1024;
  const data = randomBytes(2 * segment + 4099);
  const length = data.length - 3;
  const expected = [0, 1, 2].map((k) =>
    xxhsum(data.subarray(k * segment, Math.min(length, (k + 1) * segment))),
  );
  assert.deepEqual(await native.hashSegments(data, length, segment), expected);
  assert.deepEqual(await native.hashSegments(data, length, segment, { now: true }), expected);
  assert.deepEqual(await inline.hashSegments(data, length, segment), expected);
  // a flipped byte moves only its own segment's hash
  data[segment + 5]! ^= 1;
  const flipped = await native.hashSegments(data, length, segment);
  assert.deepEqual(
    flipped.map((h, k) => h === expected[k]),
    [true, false, true],
  );
});

test('the addon refuses what it cannot hash, before touching memory', () => {
  const addon = loadAddon()!;
  const data = Buffer.alloc(16);
  assert.throws(() => void addon.xxh64Segments(data, 17, 4), RangeError);
  assert.throws(() => void addon.xxh64Segments(data, 8, 0), RangeError);
  assert.throws(() => void addon.xxh64Segments(new Uint16Array(8) as unknown as Uint8Array, 8, 8), TypeError);
});
