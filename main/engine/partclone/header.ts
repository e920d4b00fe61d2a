/**
 * The partclone image head: the v2 descriptor (110 bytes, what partclone 0.3.x writes) and the v1 head (4160
 * bytes, partclone 0.2.x, read only). Layout and rules: shared/docs/partclone-format.md §1.1 and §2.
 * All integers are little-endian.
 */
import { AtlasError } from '../errors';
import { pcCrc32 } from './crc';

export const PARTCLONE_MAGIC = 'partclone-image';
export const V2_HEADER_SIZE = 110;
export const V1_HEADER_SIZE = 4160;
/** Enough bytes to tell the version: magic (15) … format version at 30..33. */
export const VERSION_PROBE_SIZE = 34;
/** What partclone 0.3.23 writes in the version field; byte-identical output needs the same string. */
export const PARTCLONE_VERSION_STRING = '0.3.23';
export const V1_BITMAP_MAGIC = 'BiTmAgIc';

export const ChecksumMode = {
  NONE: 0x00,
  CRC32: 0x20,
  XXH64: 0x30,
  XXH128: 0x31,
  /** internal to partclone: the buggy v1 CRC, never stored in a v2 file */
  CRC32_0001: 0xff,
} as const;
export type ChecksumModeValue = (typeof ChecksumMode)[keyof typeof ChecksumMode];

const CHECKSUM_SIZES: Record<number, number> = { 0x00: 0, 0x20: 4, 0x30: 8, 0x31: 16, 0xff: 4 };
const CHECKSUM_NAMES: Record<number, string> = {
  0x00: 'none',
  0x20: 'CRC32',
  0x30: 'XXH64',
  0x31: 'XXH128',
  0xff: 'CRC32 (v1)',
};

export const BitmapMode = { NONE: 0x00, BIT: 0x01, BYTE: 0x08 } as const;
export type BitmapModeValue = (typeof BitmapMode)[keyof typeof BitmapMode];

const ENDIAN_MARKER = 0xc0de;
const FEATURE_SIZE = 18;
const MAX_BLOCK_SIZE = 64 * 1024 * 1024;
/** partclone ≥0.3.41 refuses bitmaps over 1 TiB; so do we. */
const MAX_BITMAP_BYTES = 2 ** 40;

export interface PartcloneHeader {
  /** 1 for "0001" (partclone 0.2.x), 2 for "0002" */
  formatVersion: 1 | 2;
  /** size of the head on disk: 110 (v2) or 4160 (v1) */
  headerSize: number;
  /** the partclone version that wrote the file, e.g. '0.3.23' ('' for v1, which does not record it) */
  partcloneVersion: string;
  /** 'EXTFS', 'FAT32', 'NTFS', … */
  fsName: string;
  /** filesystem size in bytes (totalBlocks × blockSize, or more) */
  deviceSize: number;
  totalBlocks: number;
  /** used blocks according to the filesystem's superblock (0x44); informational */
  superblockUsed: number;
  /** used blocks as recorded in the header (0x4C, v1: usedblocks); readers trust the bitmap instead */
  usedBlocksField: number;
  blockSize: number;
  /** v2 only (18); 0 for v1 */
  featureSize: number;
  /** binary image version at 0x5C (2); 1 for v1 */
  imageVersion: number;
  /** 64 or 32; 0 for v1 (not recorded) */
  cpuBits: number;
  checksumMode: ChecksumModeValue;
  checksumSize: number;
  blocksPerChecksum: number;
  reseedChecksum: boolean;
  bitmapMode: BitmapModeValue;
  /** the stored descriptor CRC (v2), null for v1 */
  headerCrc: number | null;
}

export function checksumModeName(mode: number): string {
  return CHECKSUM_NAMES[mode] ?? `0x${mode.toString(16)}`;
}

/** Bytes the bitmap takes in the image (without its CRC or magic). */
export function bitmapByteLength(header: PartcloneHeader): number {
  if (header.bitmapMode === BitmapMode.BIT) return Math.ceil(header.totalBlocks / 8);
  if (header.bitmapMode === BitmapMode.BYTE) return header.totalBlocks;
  return 0;
}

/** Bytes after the bitmap: a CRC32 for BM_BIT, `BiTmAgIc` for BM_BYTE, nothing for BM_NONE. */
export function bitmapTrailerLength(header: PartcloneHeader): number {
  if (header.bitmapMode === BitmapMode.BIT) return 4;
  if (header.bitmapMode === BitmapMode.BYTE) return V1_BITMAP_MAGIC.length;
  return 0;
}

function cString(buf: Buffer, start: number, length: number): string {
  const raw = buf.subarray(start, start + length);
  const nul = raw.indexOf(0);
  return raw.subarray(0, nul < 0 ? raw.length : nul).toString('latin1');
}

function badHeader(sentence: string, details: Record<string, unknown> = {}): AtlasError {
  return new AtlasError('BAD_HEADER', `Bad partclone image header: ${sentence}`, details);
}

function u64(buf: Buffer, offset: number, what: string): number {
  const value = buf.readBigUInt64LE(offset);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw badHeader(`${what} is out of range (${value}).`);
  return Number(value);
}

/**
 * Tells the format version from the first 34 bytes. BAD_MAGIC when it is not a partclone image at all,
 * BAD_HEADER when it is one of a version we cannot read.
 */
export function detectFormatVersion(probe: Buffer): 1 | 2 {
  if (probe.length < VERSION_PROBE_SIZE || probe.toString('latin1', 0, 15) !== PARTCLONE_MAGIC) {
    const gz = probe.length >= 2 && probe[0] === 0x1f && probe[1] === 0x8b;
    throw new AtlasError(
      'BAD_MAGIC',
      gz
        ? 'This is a gzip file, not a raw partclone image: decompress it first (or name it .gz).'
        : 'This is not a partclone image: it does not start with "partclone-image".',
    );
  }
  const version = probe.toString('latin1', 30, 34);
  // partclone parses these four characters as a decimal number
  if (!/^\d{4}$/.test(version) || (Number(version) !== 1 && Number(version) !== 2)) {
    throw badHeader(
      `image format version "${version.replace(/[^\x20-\x7e]/g, '?')}" is not supported (only 0001 and 0002).`,
      {
        version,
      },
    );
  }
  return Number(version) as 1 | 2;
}

/** Decodes and validates a v1 or v2 head; `buf` must hold at least headerSize bytes (110 or 4160). */
export function decodeHeader(buf: Buffer): PartcloneHeader {
  const version = detectFormatVersion(buf);
  const header = version === 2 ? decodeV2(buf) : decodeV1(buf);
  validate(header);
  return header;
}

function decodeV2(buf: Buffer): PartcloneHeader {
  if (buf.length < V2_HEADER_SIZE)
    throw new AtlasError('TRUNCATED', 'The partclone image ends inside its header.');
  const endian = buf.readUInt16LE(34);
  if (endian !== ENDIAN_MARKER) {
    throw badHeader(
      `endianness marker is 0x${endian.toString(16).padStart(4, '0')}, expected 0xc0de (little-endian); the image was written on a big-endian machine or is damaged.`,
      { endian },
    );
  }
  const stored = buf.readUInt32LE(106);
  const computed = pcCrc32(buf.subarray(0, 106));
  if (stored !== computed) {
    throw badHeader(
      `descriptor CRC is 0x${stored.toString(16).padStart(8, '0')} but the descriptor computes to 0x${computed.toString(16).padStart(8, '0')}; the header is damaged.`,
      { stored, computed },
    );
  }
  return {
    formatVersion: 2,
    headerSize: V2_HEADER_SIZE,
    partcloneVersion: cString(buf, 16, 14),
    fsName: cString(buf, 36, 16),
    deviceSize: u64(buf, 52, 'device size'),
    totalBlocks: u64(buf, 60, 'total blocks'),
    superblockUsed: u64(buf, 68, 'used blocks'),
    usedBlocksField: u64(buf, 76, 'used blocks'),
    blockSize: buf.readUInt32LE(84),
    featureSize: buf.readUInt32LE(88),
    imageVersion: buf.readUInt16LE(92),
    cpuBits: buf.readUInt16LE(94),
    checksumMode: buf.readUInt16LE(96) as ChecksumModeValue,
    checksumSize: buf.readUInt16LE(98),
    blocksPerChecksum: buf.readUInt32LE(100),
    reseedChecksum: buf[104] !== 0,
    bitmapMode: buf[105] as BitmapModeValue,
    headerCrc: stored,
  };
}

function decodeV1(buf: Buffer): PartcloneHeader {
  if (buf.length < V1_HEADER_SIZE)
    throw new AtlasError('TRUNCATED', 'The partclone image ends inside its header.');
  const blockSize = buf.readInt32LE(36);
  const totalBlocks = u64(buf, 48, 'total blocks');
  const used = u64(buf, 56, 'used blocks');
  return {
    formatVersion: 1,
    headerSize: V1_HEADER_SIZE,
    partcloneVersion: '',
    fsName: cString(buf, 15, 15),
    // partclone 0.3.x forces device_size to totalblock × block_size on load; so do we
    deviceSize: blockSize > 0 ? totalBlocks * blockSize : u64(buf, 40, 'device size'),
    totalBlocks,
    superblockUsed: used,
    usedBlocksField: used,
    blockSize,
    featureSize: 0,
    imageVersion: 1,
    cpuBits: 0,
    checksumMode: ChecksumMode.CRC32_0001,
    checksumSize: 4,
    blocksPerChecksum: 1,
    reseedChecksum: false,
    bitmapMode: BitmapMode.BYTE,
    headerCrc: null,
  };
}

/** The sanity checks partclone ≥0.3.41 runs on load, plus the ones our reader relies on. */
function validate(h: PartcloneHeader): void {
  if (!(h.blockSize > 0 && h.blockSize <= MAX_BLOCK_SIZE)) {
    throw badHeader(`block size ${h.blockSize} is not between 1 byte and 64 MiB.`, {
      blockSize: h.blockSize,
    });
  }
  if (h.formatVersion === 1) return;
  if (h.usedBlocksField > h.totalBlocks) {
    throw badHeader(`it claims ${h.usedBlocksField} used blocks out of ${h.totalBlocks}.`);
  }
  const expectedSize = CHECKSUM_SIZES[h.checksumMode];
  if (expectedSize === undefined || h.checksumMode === ChecksumMode.CRC32_0001) {
    throw badHeader(`unknown checksum mode 0x${h.checksumMode.toString(16)}.`, {
      checksumMode: h.checksumMode,
    });
  }
  if (h.checksumSize !== expectedSize) {
    throw badHeader(
      `checksum size ${h.checksumSize} does not match checksum mode ${checksumModeName(h.checksumMode)}.`,
    );
  }
  if (h.checksumMode !== ChecksumMode.NONE && h.blocksPerChecksum === 0) {
    throw badHeader('blocks per checksum is 0 while a checksum is enabled.');
  }
  if (h.totalBlocks * h.blockSize > h.deviceSize) {
    throw badHeader(
      `${h.totalBlocks} blocks of ${h.blockSize} bytes do not fit the device size ${h.deviceSize}.`,
    );
  }
  if (h.totalBlocks / 8 > MAX_BITMAP_BYTES)
    throw badHeader(`total block count ${h.totalBlocks} is not plausible.`);
  if (
    h.bitmapMode !== BitmapMode.BIT &&
    h.bitmapMode !== BitmapMode.BYTE &&
    h.bitmapMode !== BitmapMode.NONE
  ) {
    throw badHeader(`unknown bitmap mode ${h.bitmapMode}.`);
  }
  if (h.bitmapMode === BitmapMode.NONE && h.usedBlocksField !== h.totalBlocks) {
    throw badHeader('an image without a bitmap must have every block used.');
  }
}

export interface V2HeaderFields {
  fsName: string;
  totalBlocks: number;
  blockSize: number;
  usedBlocks: number;
  /** 0x44; defaults to usedBlocks */
  superblockUsed?: number;
  /** defaults to totalBlocks × blockSize */
  deviceSize?: number;
  /** defaults to '0.3.23' */
  partcloneVersion?: string;
  checksumMode?: typeof ChecksumMode.NONE | typeof ChecksumMode.CRC32;
  /** defaults to 1 MiB / blockSize (partclone's default); 0 when the checksum is NONE */
  blocksPerChecksum?: number;
  reseedChecksum?: boolean;
}

/** The default group size partclone uses: its 1 MiB buffer in blocks. */
export function defaultBlocksPerChecksum(blockSize: number): number {
  return Math.max(1, Math.floor((1024 * 1024) / blockSize));
}

/** Builds the 110-byte v2 descriptor exactly as partclone 0.3.23 lays it out (§1.1 and writer rules §1.5). */
export function encodeV2Header(f: V2HeaderFields): Buffer {
  const mode = f.checksumMode ?? ChecksumMode.CRC32;
  const version = f.partcloneVersion ?? PARTCLONE_VERSION_STRING;
  if (Buffer.byteLength(version, 'latin1') > 13)
    throw new AtlasError('INVALID_ARGUMENT', 'partclone version string is over 13 characters.');
  if (Buffer.byteLength(f.fsName, 'latin1') > 15)
    throw new AtlasError('INVALID_ARGUMENT', 'filesystem name is over 15 characters.');
  const buf = Buffer.alloc(V2_HEADER_SIZE);
  buf.write(PARTCLONE_MAGIC, 0, 'latin1'); // byte 15 stays NUL
  buf.write(version, 16, 'latin1');
  buf.write('0002', 30, 'latin1');
  buf.writeUInt16LE(ENDIAN_MARKER, 34);
  buf.write(f.fsName, 36, 'latin1');
  buf.writeBigUInt64LE(BigInt(f.deviceSize ?? f.totalBlocks * f.blockSize), 52);
  buf.writeBigUInt64LE(BigInt(f.totalBlocks), 60);
  buf.writeBigUInt64LE(BigInt(f.superblockUsed ?? f.usedBlocks), 68);
  buf.writeBigUInt64LE(BigInt(f.usedBlocks), 76);
  buf.writeUInt32LE(f.blockSize, 84);
  buf.writeUInt32LE(FEATURE_SIZE, 88);
  buf.writeUInt16LE(2, 92);
  buf.writeUInt16LE(64, 94);
  buf.writeUInt16LE(mode, 96);
  buf.writeUInt16LE(CHECKSUM_SIZES[mode]!, 98);
  const bpc = mode === ChecksumMode.NONE ? 0 : (f.blocksPerChecksum ?? defaultBlocksPerChecksum(f.blockSize));
  buf.writeUInt32LE(bpc, 100);
  buf[104] = (f.reseedChecksum ?? true) ? 1 : 0;
  buf[105] = BitmapMode.BIT;
  buf.writeUInt32LE(pcCrc32(buf.subarray(0, 106)), 106);
  return buf;
}
