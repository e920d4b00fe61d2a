/** partclone CRC, descriptor encoding and decoding, bitmap walks: pure logic against the format doc's facts. */
import test from 'node:test';
import assert from 'node:assert/strict';
import { crc32 } from 'node:zlib';
import { ChecksumMode, decodeHeader, encodeV2Header, pcCrc32 } from '../../../main/engine/partclone';
import { byteMapToBitmap } from '../../../main/engine/partclone/bitmap';
import { countUsed, usedRuns } from '../../../main/engine/fs/bitmap';
import { pcCrc32FirstByteQuirk } from '../../../main/engine/partclone/crc';
import { flipBits } from '../../support/assert';

test('partclone CRC32: the doc test vector, NOT of zlib, continuable', () => {
  assert.equal(pcCrc32(Buffer.from('123456789')), 0x340bc6d9);
  const data = Buffer.from('partclone continues its register across blocks');
  assert.equal(pcCrc32(data), (crc32(data) ^ 0xffffffff) >>> 0);
  assert.equal(pcCrc32(data.subarray(20), pcCrc32(data.subarray(0, 20))), pcCrc32(data));
  // v1 quirk: the first byte fed length times, even past the 64 KiB run cache
  const block = Buffer.from([0xab, 1, 2, 3]);
  assert.equal(pcCrc32FirstByteQuirk(block, 100_000, 0xffffffff), pcCrc32(Buffer.alloc(100_000, 0xab)));
});

// The real 1 KiB-block ext4 header from the format doc §1.1 (partclone.ext4 -c, 64 MiB, 9915 blocks used).
const REAL_HEADER = Buffer.from(
  [
    '7061 7274 636c 6f6e 652d 696d 6167 6500',
    '302e 332e 3233 0000 0000 0000 0000 3030',
    '3032 dec0 4558 5446 5300 0000 0000 0000',
    '0000 0000 0000 0004 0000 0000 0000 0100',
    '0000 0000 bb26 0000 0000 0000 bb26 0000',
    '0000 0000 0004 0000 1200 0000 0200 4000',
    '2000 0400 0004 0000 0101 456a 441b',
  ]
    .join('')
    .replace(/ /g, ''),
  'hex',
);

test('decodes the real partclone 0.3.23 header from the doc and re-encodes it byte for byte', () => {
  assert.equal(REAL_HEADER.length, 110);
  const h = decodeHeader(REAL_HEADER);
  assert.equal(h.formatVersion, 2);
  assert.equal(h.partcloneVersion, '0.3.23');
  assert.equal(h.fsName, 'EXTFS');
  assert.equal(h.deviceSize, 64 * 1024 * 1024);
  assert.equal(h.totalBlocks, 65536);
  assert.equal(h.usedBlocksField, 9915);
  assert.equal(h.superblockUsed, 9915);
  assert.equal(h.blockSize, 1024);
  assert.equal(h.checksumMode, ChecksumMode.CRC32);
  assert.equal(h.blocksPerChecksum, 1024);
  assert.equal(h.reseedChecksum, true);
  assert.equal(h.headerCrc, 0x1b446a45);
  const again = encodeV2Header({ fsName: 'EXTFS', totalBlocks: 65536, blockSize: 1024, usedBlocks: 9915 });
  assert.ok(again.equals(REAL_HEADER));
});

test('header validation codes', () => {
  const expectCode = (buf: Buffer, code: string) =>
    assert.throws(
      () => decodeHeader(buf),
      (e: Error & { code?: string }) => e.code === code,
    );
  const fix = (b: Buffer) => {
    b.writeUInt32LE(pcCrc32(b.subarray(0, 106)), 106);
    return b;
  };
  expectCode(Buffer.from('not an image at all, really not, no no no'), 'BAD_MAGIC');
  const crc = Buffer.from(REAL_HEADER);
  flipBits(crc, 106, 1);
  expectCode(crc, 'BAD_HEADER');
  const zeroBlock = fix(Buffer.from(REAL_HEADER));
  zeroBlock.writeUInt32LE(0, 84);
  expectCode(fix(zeroBlock), 'BAD_HEADER');
  const small = Buffer.from(REAL_HEADER);
  small.writeBigUInt64LE(1000n, 52); // device smaller than its blocks
  expectCode(fix(small), 'BAD_HEADER');
  const size = Buffer.from(REAL_HEADER);
  size.writeUInt16LE(8, 98); // CRC32 with 8-byte checksums
  expectCode(fix(size), 'BAD_HEADER');
  const k0 = Buffer.from(REAL_HEADER);
  k0.writeUInt32LE(0, 100);
  expectCode(fix(k0), 'BAD_HEADER');
  const none = encodeV2Header({
    fsName: 'FAT32',
    totalBlocks: 10,
    blockSize: 512,
    usedBlocks: 3,
    checksumMode: 0,
  });
  assert.equal(none.readUInt32LE(100), 0, 'NONE writes blocks_per_checksum 0');
  assert.equal(decodeHeader(none).checksumSize, 0);
});

test('BM_BYTE bitmaps (v1) become BM_BIT with padding bits set; only the value 1 means used', () => {
  const total = 21;
  const bytes = new Uint8Array(total);
  const used = [0, 1, 2, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 20];
  for (const i of used) bytes[i] = 1;
  bytes[5] = 2;
  const bitmap = byteMapToBitmap(bytes, total);
  assert.equal(bitmap.length, 3);
  assert.equal(bitmap[2]! & 0xe0, 0xe0, 'padding bits set');
  assert.equal(countUsed(bitmap, total), used.length);
  assert.deepEqual(
    [...usedRuns({ bitmap, totalBlocks: total })].map((r) => [r.first, r.count]),
    [
      [0, 3],
      [7, 10],
      [20, 1],
    ],
  );
});
