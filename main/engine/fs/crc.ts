/**
 * The two checksums ext4 metadata uses, as libext2fs computes them: CRC32C (Castagnoli, reflected, no final
 * inversion: ext2fs_crc32c_le) and CRC16 (poly 0x8005 reflected: ext2fs_crc16, for the old uninit_bg
 * group descriptor checksum).
 */
function table(poly: number): Uint32Array {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ poly : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
}

const CRC32C = table(0x82f63b78);
const CRC16 = table(0xa001);

/** ext2fs_crc32c_le(crc, data): feed `data` into register `crc`; start with 0xffffffff, no final xor. */
export function crc32cLe(crc: number, data: Uint8Array): number {
  let c = crc >>> 0;
  for (let i = 0; i < data.length; i++) c = CRC32C[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return c >>> 0;
}

/** ext2fs_crc16(crc, data) */
export function crc16(crc: number, data: Uint8Array): number {
  let c = crc & 0xffff;
  for (let i = 0; i < data.length; i++) c = (CRC16[(c ^ data[i]!) & 0xff]! ^ (c >>> 8)) & 0xffff;
  return c;
}
