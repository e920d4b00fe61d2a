/**
 * CRC-32 (IEEE, as gzip and partclone use it), one place for the engine. The addon's folding CRC (crc32.c:
 * PCLMULQDQ, 10.6 GB/s on the CI box against 4.6 for zlib's) where it runs, else zlib's; the same values either
 * way (the tests compare them). Restore checks every inflated byte twice with it (the gzip members' CRC on the
 * inflating workers, partclone's block checksums on the reading thread), so its speed is restore's.
 */
import { crc32 as zlibCrc32 } from 'node:zlib';
import { loadAddon } from './addon';

const addon = loadAddon();
const fast = addon?.crc32Fast === true ? addon : null;

/** zlib's crc32(data, value): the CRC-32 of `data` continuing from `value` (0 to start). */
export function crc32(data: Uint8Array, value = 0): number {
  if (fast) return ~fast.crc32Raw(data, ~value >>> 0) >>> 0;
  return zlibCrc32(data, value);
}

/** The CRC-32 register (no inversion in or out) after `data`, from `register`. */
export function crc32Register(data: Uint8Array, register: number): number {
  if (fast) return fast.crc32Raw(data, register);
  return ~zlibCrc32(data, ~register >>> 0) >>> 0;
}

/** The folding CRC is the one running (the tests check it is on the CI box). */
export function crc32IsFast(): boolean {
  return fast !== null;
}
