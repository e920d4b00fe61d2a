/**
 * The engine's CRC-32 (io/crc32.ts): the addon's folding CRC equals zlib's on every length around its branches
 * (below 64 bytes the table, the 64-byte blocks, the 16-byte folds, the tail) and at every alignment, continuing
 * from any register; it is the one running here; and no other engine file computes a CRC-32 of its own.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { loadAddon } from '../../main/engine/io/addon';
import { crc32, crc32IsFast, crc32Register } from '../../main/engine/io/crc32';
import { pcCrc32, PC_CRC_SEED } from '../../main/engine/partclone/crc';

test('the folding CRC runs on this machine (x86-64 with PCLMULQDQ)', () => {
  assert.equal(loadAddon()?.crc32Fast, true);
  assert.equal(crc32IsFast(), true);
});

test('equal to zlib for every length to 300 bytes and beyond, at any alignment, from any value', () => {
  const lengths = [...Array.from({ length: 300 }, (_, n) => n), 1023, 4096, 65536 + 13, 1048576 + 7];
  for (const n of lengths) {
    for (const skew of [0, 1, 7, 15]) {
      const data = randomBytes(n + skew).subarray(skew);
      const value = randomBytes(4).readUInt32LE(0);
      // zlib answers 0 for an empty buffer whatever the value (its null-pointer case): the CRC of nothing more
      // is the value itself
      const expected = n === 0 ? value : zlibCrc32(data, value);
      assert.equal(crc32(data, value), expected, `${n} bytes at +${skew}`);
      assert.equal(crc32Register(data, ~value >>> 0), ~expected >>> 0, `register, ${n} bytes at +${skew}`);
    }
  }
});

test("continuing across pieces equals the whole, and partclone's register is zlib's CRC inverted", () => {
  const data = randomBytes(3 * 65536 + 11);
  let value = 0;
  for (let at = 0; at < data.length; at += 4099) value = crc32(data.subarray(at, at + 4099), value);
  assert.equal(value, zlibCrc32(data));
  assert.equal(pcCrc32(data), ~zlibCrc32(data) >>> 0);
  assert.equal(pcCrc32(data.subarray(100), pcCrc32(data.subarray(0, 100))), pcCrc32(data, PC_CRC_SEED));
});

test("no other engine file computes a CRC-32 with zlib's: one CRC for the engine", () => {
  // the compiled engine beside this test's build (out/main): a call of zlib's reads `node_zlib_1.crc32(`
  const root = join(__dirname, '..', '..', 'main');
  const files = (function walk(dir: string): string[] {
    return readdirSync(dir).flatMap((name) => {
      const path = join(dir, name);
      return statSync(path).isDirectory() ? walk(path) : path.endsWith('.js') ? [path] : [];
    });
  })(root);
  assert.ok(files.length > 100, `the compiled engine is at ${root}`);
  const offenders = files.filter(
    (f) => !f.endsWith(join('io', 'crc32.js')) && /zlib_\d+\.crc32\b/.test(readFileSync(f, 'utf8')),
  );
  assert.deepEqual(
    offenders.map((f) => relative(root, f)),
    [],
  );
});
