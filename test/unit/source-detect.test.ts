// Pure pieces of the image sources: format detection by magic bytes, xz index parsing, tool stderr cleaning.
import test from 'node:test';
import assert from 'node:assert/strict';
import { crc32 } from 'node:zlib';
import { cleanToolMessage, detectFormat } from '../../main/engine/compress/source';
import { parseXzIndex, readVli } from '../../main/engine/compress/source-xz';

function head(bytes: number[], at = 0, size = 1024): Buffer {
  const buffer = Buffer.alloc(size);
  Buffer.from(bytes).copy(buffer, at);
  return buffer;
}

test('detectFormat: magic bytes win over the name', () => {
  assert.equal(detectFormat(head([0x1f, 0x8b, 8]), 'x.img.xz'), 'gzip');
  assert.equal(detectFormat(head([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0]), 'x.img'), 'xz');
  assert.equal(detectFormat(head([0x28, 0xb5, 0x2f, 0xfd]), 'x'), 'zstd');
  assert.equal(detectFormat(head([0x50, 0x2a, 0x4d, 0x18]), 'x'), 'zstd'); // skippable frame first (pzstd)
  assert.equal(detectFormat(head([0x50, 0x4b, 3, 4]), 'x.img'), 'zip');
  assert.equal(detectFormat(head([0x55, 0xaa], 510), 'card.gz'), 'raw');
  assert.equal(detectFormat(head([]), 'plain.img'), 'raw');
  assert.deepEqual(detectFormat(head([]), 'notes.txt'), { unsupported: '' });
  assert.deepEqual(detectFormat(head([0x42, 0x5a, 0x68]), 'x.img.bz2'), { unsupported: 'bzip2' });
  assert.deepEqual(detectFormat(head([0x75, 0x73, 0x74, 0x61, 0x72], 257), 'x.tar'), { unsupported: 'tar' });
  assert.deepEqual(detectFormat(Buffer.alloc(3), 'short.dat'), { unsupported: '' });
});

test('readVli: 7 bits per byte, little-endian groups, minimal encoding only', () => {
  assert.deepEqual(readVli(Buffer.from([0x05]), 0), [5, 1]);
  assert.deepEqual(readVli(Buffer.from([0x80, 0x01]), 0), [128, 2]);
  assert.deepEqual(readVli(Buffer.from([0xff, 0xff, 0x03]), 0), [65535, 3]);
  assert.throws(() => readVli(Buffer.from([0x80, 0x00]), 0), /non-minimal/);
  assert.throws(() => readVli(Buffer.from([0x80]), 0), /ends inside/);
});

function index(records: Array<[number, number]>): Buffer {
  const vli = (n: number): number[] => {
    const out: number[] = [];
    while (n >= 0x80) {
      out.push((n % 0x80) | 0x80);
      n = Math.floor(n / 0x80);
    }
    out.push(n);
    return out;
  };
  const bytes = [0, ...vli(records.length), ...records.flatMap(([u, s]) => [...vli(u), ...vli(s)])];
  while (bytes.length % 4 !== 0) bytes.push(0);
  const body = Buffer.from(bytes);
  const crc = Buffer.alloc(4);
  crc.writeUInt32LE(crc32(body) >>> 0);
  return Buffer.concat([body, crc]);
}

test('parseXzIndex: sums records, pads blocks to 4 bytes, checks the CRC', () => {
  const parsed = parseXzIndex(
    index([
      [1001, 8 * 1024 * 1024],
      [6000000, 5 * 2 ** 32],
    ]),
  );
  assert.equal(parsed.records, 2);
  assert.equal(parsed.uncompressed, 8 * 1024 * 1024 + 5 * 2 ** 32);
  assert.equal(parsed.blocksSize, 1004 + 6000000);
  const bad = index([[100, 200]]);
  bad[2] = bad[2]! ^ 1;
  assert.throws(() => parseXzIndex(bad), /CRC32/);
});

test('cleanToolMessage keeps the sentence, drops the tool and stdin noise', () => {
  assert.equal(
    cleanToolMessage('/usr/bin/xz: (stdin): Compressed data is corrupt'),
    'Compressed data is corrupt',
  );
  assert.equal(
    cleanToolMessage('pigz: skipping: <stdin>: corrupted -- crc32 mismatch'),
    'corrupted -- crc32 mismatch',
  );
  assert.equal(
    cleanToolMessage("zstd: /*stdin*\\ : Decoding error (36) : Restored data doesn't match checksum"),
    "Restored data doesn't match checksum",
  );
});
