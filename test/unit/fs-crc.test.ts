// The ext4 checksums against the published check values of CRC-32C and CRC-16/ARC.
import test from 'node:test';
import assert from 'node:assert/strict';
import { crc16, crc32cLe } from '../../main/engine/fs/crc';

const check = new TextEncoder().encode('123456789');

test('crc32cLe is CRC-32C without the final inversion, and can be continued', () => {
  assert.equal((crc32cLe(0xffffffff, check) ^ 0xffffffff) >>> 0, 0xe3069283);
  assert.equal(
    crc32cLe(crc32cLe(0xffffffff, check.subarray(0, 4)), check.subarray(4)),
    crc32cLe(0xffffffff, check),
  );
});

test('crc16 is CRC-16/ARC (poly 0x8005 reflected)', () => {
  assert.equal(crc16(0, check), 0xbb3d);
  assert.equal(crc16(crc16(0xffff, check.subarray(0, 3)), check.subarray(3)), crc16(0xffff, check));
});
