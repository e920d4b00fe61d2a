/**
 * partclone's CRC32: the reflected IEEE table, register seeded with 0xFFFFFFFF, no final XOR: the CRC-32
 * register itself (io/crc32.ts; zlib's CRC-32 is its bitwise NOT).
 */
import { crc32Register } from '../io/crc32';

/** The seed partclone starts every checksum from. */
export const PC_CRC_SEED = 0xffffffff;

/** Continues a partclone CRC register over `data` (pass PC_CRC_SEED to start fresh). */
export function pcCrc32(data: Uint8Array, register: number = PC_CRC_SEED): number {
  return crc32Register(data, register);
}

/**
 * The v1 ("0001") checksum is buggy in partclone: it feeds the block's first byte `length` times. We reproduce
 * it by feeding a run of that byte; a cached 64 KiB run of each byte value keeps it cheap.
 */
const runs = new Map<number, Buffer>();
export function pcCrc32FirstByteQuirk(block: Uint8Array, length: number, register: number): number {
  const byte = block[0] ?? 0;
  let run = runs.get(byte);
  if (!run) {
    run = Buffer.alloc(65536, byte);
    runs.set(byte, run);
  }
  let left = length;
  while (left > 0) {
    const n = Math.min(left, run.length);
    register = pcCrc32(n === run.length ? run : run.subarray(0, n), register);
    left -= n;
  }
  return register;
}
