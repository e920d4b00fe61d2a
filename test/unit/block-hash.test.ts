/**
 * The block hash (io/hash-pool.ts) the same every way it is computed: the addon's C XXH3 (its AVX2 loop and its
 * portable one, which an Apple-silicon Mac runs) on libuv's threads and inline, hash-wasm inline and hash-wasm on
 * worker threads over shared memory, all against `xxhsum -H3` (the xxHash project's own tool) on lengths around
 * every branch of the algorithm (0, 1–3, 4–8, 9–16, 17–128, 129–240 bytes, then the 64-byte stripes, the
 * 1024-byte blocks and the last stripe that overlaps the one before) and in segments, as restore and flash call it.
 */
import test, { after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { loadAddon } from '../../main/engine/io/addon';
import { BlockHasher } from '../../main/engine/io/hash-pool';
import { FdHandle, plainDescriptor } from '../../main/engine/io/fd-handle';
import { scratchDir } from '../support/sh';
import { xxhsum as xxhsumOf } from '../support/xxhsum';

const { dir, cleanup } = scratchDir('atlas-block-hash-');
const hashers: BlockHasher[] = [];
/** XXH3-64 of no bytes (the addon gives no segment for them; the hasher's hash() says this) */
const EMPTY = '2d06800538d394c2';
after(async () => {
  await Promise.all(hashers.map((h) => h.close()));
  cleanup();
});

const xxhsum = (data: Uint8Array): string => xxhsumOf(data, dir);

/** `data` copied into a SharedArrayBuffer, the memory the flash's hashing workers read in place. */
function shared(data: Uint8Array): Buffer {
  const out = Buffer.from(new SharedArrayBuffer(data.length));
  out.set(data);
  return out;
}

const LENGTHS = [
  0, 1, 2, 3, 4, 5, 8, 9, 15, 16, 17, 31, 32, 33, 127, 128, 129, 143, 144, 239, 240, 241, 255, 256, 300, 1023,
  1024, 1025, 1087, 1088, 1089, 2047, 2048, 2049, 4096, 65535, 1048589,
];

test('the addon is built beside the engine and has the hash', () => {
  const addon = loadAddon();
  assert.ok(addon, 'out/native/atlas_io.node did not load');
  assert.equal(typeof addon.xxh3Segments, 'function');
  // the CI box has AVX2: the wide loop is the one the tests below check against xxhsum
  if (process.arch === 'x64') assert.equal(addon.xxh3Wide, true, 'the AVX2 loop does not run on this CPU');
});

test('XXH3 from the addon, hash-wasm inline and hash-wasm on workers equals xxhsum', async () => {
  const addon = loadAddon()!;
  const native = new BlockHasher(0);
  const inline = new BlockHasher(0, { native: false });
  const workers = new BlockHasher(2, { native: false });
  hashers.push(native, inline, workers);
  for (const length of LENGTHS) {
    const data = randomBytes(length + 3).subarray(3); // not at the start of its memory
    const expected = xxhsum(data);
    assert.equal(await native.hash(data, length), expected, `native, ${length} bytes`);
    const portable = addon.xxh3SegmentsSync(data, length, Math.max(1, length), true)[0] ?? EMPTY;
    assert.equal(portable, expected, `the portable loop, ${length} bytes`);
    assert.deepEqual(
      await addon.xxh3Segments(data, length, Math.max(1, length), true),
      length ? [expected] : [],
    );
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
  assert.throws(() => void addon.xxh3Segments(data, 17, 4), RangeError);
  assert.throws(() => void addon.xxh3Segments(data, 8, 0), RangeError);
  assert.throws(() => void addon.xxh3Segments(new Uint16Array(8) as unknown as Uint8Array, 8, 8), TypeError);
  assert.throws(() => void addon.xxh3SegmentsSync(data, 8, 8, 'yes' as unknown as boolean), TypeError);
});

test("the read-back's read and hash in one step: the region's XXH3, nothing for a short read, fs's errors", async () => {
  const native = new BlockHasher(0);
  const wasm = new BlockHasher(0, { native: false });
  hashers.push(native, wasm);
  const file = join(dir, 'card');
  const data = randomBytes(3 * 4096 + 100);
  writeFileSync(file, data);
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(8192);
    // 8 KiB from byte 4096; the hash over 5000 bytes from 96 into the buffer, in 4 KiB segments
    const got = await native.readThenHash(
      handle.fd,
      buffer,
      { length: 8192, position: 4096 },
      { at: 96, length: 5000, segment: 4096 },
    );
    assert.equal(got?.bytesRead, 8192);
    assert.deepEqual(buffer, data.subarray(4096, 4096 + 8192));
    const region = data.subarray(4096 + 96, 4096 + 96 + 5000);
    assert.deepEqual(got?.hashes, [xxhsum(region.subarray(0, 4096)), xxhsum(region.subarray(4096))]);
    // past the end: what there was, and no hashes (the read-back calls that a card that ended)
    const short = await native.readThenHash(
      handle.fd,
      buffer,
      { length: 8192, position: 2 * 4096 },
      { at: 0, length: 8192, segment: 4096 },
    );
    assert.deepEqual(short, { bytesRead: 4096 + 100, hashes: [] });
    // a failed read rejects as fs does, so a card's error reads the same on either path
    await assert.rejects(
      native.readThenHash(
        2 ** 30,
        buffer,
        { length: 512, position: 0 },
        { at: 0, length: 512, segment: 512 },
      )!,
      (e: NodeJS.ErrnoException) => e.code === 'EBADF' && e.syscall === 'read' && e.errno === -9,
    );
    assert.throws(
      () =>
        native.readThenHash(
          handle.fd,
          buffer,
          { length: 8193, position: 0 },
          { at: 0, length: 1, segment: 1 },
        ),
      RangeError,
    );
    // without the addon the caller reads and hashes itself
    assert.equal(
      wasm.readThenHash(
        handle.fd,
        buffer,
        { length: 512, position: 0 },
        { at: 0, length: 512, segment: 512 },
      ),
      null,
    );
  } finally {
    await handle.close();
  }
});

test('a descriptor is read in one step only where its handle adds no rules of its own', async () => {
  const handle = await open(join(dir, 'card'), 'r');
  try {
    assert.equal(plainDescriptor(handle), handle.fd);
    assert.equal(plainDescriptor(new FdHandle(handle.fd, { owned: false })), handle.fd);
    // a wrapper (an aligning handle, a test's raw card) keeps its own reads
    const wrapper = { fd: handle.fd, read: handle.read.bind(handle), write: handle.write.bind(handle) };
    assert.equal(plainDescriptor(wrapper as unknown as FdHandle), null);
  } finally {
    await handle.close();
  }
});
