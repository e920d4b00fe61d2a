/**
 * The ext2/3/4 superblock: its fields and feature bits (linux/ext4.h), the geometry derived from them, and how it
 * is found at the start of a partition. The used-block map (ext.ts), the Phase rule (library/lineage.ts) and
 * Armbian recognition read it here.
 */
import type { BlockFile } from '../io/block-file';
import { AtlasError } from '../errors';
import { readAligned } from './aligned-read';

export const EXT_MAGIC = 0xef53;

// s_state
export const STATE_VALID = 0x0001;
export const STATE_ERROR = 0x0002;
// feature bits (linux/ext4.h)
export const COMPAT_HAS_JOURNAL = 0x0004;
export const COMPAT_SPARSE_SUPER2 = 0x0200;
export const INCOMPAT_RECOVER = 0x0004;
export const INCOMPAT_JOURNAL_DEV = 0x0008;
export const INCOMPAT_META_BG = 0x0010;
export const INCOMPAT_64BIT = 0x0080;
export const INCOMPAT_FLEX_BG = 0x0200;
export const INCOMPAT_CSUM_SEED = 0x2000;
export const RO_COMPAT_SPARSE_SUPER = 0x0001;
export const RO_COMPAT_GDT_CSUM = 0x0010;
export const RO_COMPAT_BIGALLOC = 0x0200;
export const RO_COMPAT_METADATA_CSUM = 0x0400;
// bg_flags
export const BG_BLOCK_UNINIT = 0x0002;

const FEATURE_NAMES: Array<
  [keyof Pick<ExtInfo, 'featureCompat' | 'featureIncompat' | 'featureRoCompat'>, number, string]
> = [
  ['featureCompat', 0x0001, 'dir_prealloc'],
  ['featureCompat', 0x0004, 'has_journal'],
  ['featureCompat', 0x0008, 'ext_attr'],
  ['featureCompat', 0x0010, 'resize_inode'],
  ['featureCompat', 0x0020, 'dir_index'],
  ['featureCompat', 0x0200, 'sparse_super2'],
  ['featureCompat', 0x0400, 'fast_commit'],
  ['featureCompat', 0x0800, 'stable_inodes'],
  ['featureCompat', 0x1000, 'orphan_file'],
  ['featureIncompat', 0x0002, 'filetype'],
  ['featureIncompat', 0x0004, 'needs_recovery'],
  ['featureIncompat', 0x0008, 'journal_dev'],
  ['featureIncompat', 0x0010, 'meta_bg'],
  ['featureIncompat', 0x0040, 'extent'],
  ['featureIncompat', 0x0080, '64bit'],
  ['featureIncompat', 0x0100, 'mmp'],
  ['featureIncompat', 0x0200, 'flex_bg'],
  ['featureIncompat', 0x0400, 'ea_inode'],
  ['featureIncompat', 0x1000, 'dirdata'],
  ['featureIncompat', 0x2000, 'metadata_csum_seed'],
  ['featureIncompat', 0x4000, 'large_dir'],
  ['featureIncompat', 0x8000, 'inline_data'],
  ['featureIncompat', 0x10000, 'encrypt'],
  ['featureIncompat', 0x20000, 'casefold'],
  ['featureRoCompat', 0x0001, 'sparse_super'],
  ['featureRoCompat', 0x0002, 'large_file'],
  ['featureRoCompat', 0x0008, 'huge_file'],
  ['featureRoCompat', 0x0010, 'uninit_bg'],
  ['featureRoCompat', 0x0020, 'dir_nlink'],
  ['featureRoCompat', 0x0040, 'extra_isize'],
  ['featureRoCompat', 0x0100, 'quota'],
  ['featureRoCompat', 0x0200, 'bigalloc'],
  ['featureRoCompat', 0x0400, 'metadata_csum'],
  ['featureRoCompat', 0x1000, 'read-only'],
  ['featureRoCompat', 0x2000, 'project'],
  ['featureRoCompat', 0x8000, 'verity'],
  ['featureRoCompat', 0x10000, 'orphan_present'],
];

/** What the superblock says, plus the geometry derived from it. */
export interface ExtInfo {
  /** 'ext2' | 'ext3' | 'ext4', by the features (as blkid names them) */
  type: 'ext2' | 'ext3' | 'ext4';
  blockSize: number;
  blocksCount: number;
  freeBlocks: number;
  reservedBlocks: number;
  inodesCount: number;
  freeInodes: number;
  firstDataBlock: number;
  blocksPerGroup: number;
  inodesPerGroup: number;
  inodeSize: number;
  groupCount: number;
  /** bytes per group descriptor: 32, or s_desc_size with the 64bit feature */
  descSize: number;
  reservedGdtBlocks: number;
  logGroupsPerFlex: number;
  firstMetaBg: number;
  backupBgs: [number, number];
  /** lowercase, dashed */
  uuid: string;
  label: string;
  lastMounted: string;
  /** raw s_state: 1 = cleanly unmounted, 2 = errors detected */
  state: number;
  mountCount: number;
  /** s_mtime (with s_mtime_hi): when the kernel last mounted it read-write, seconds since 1970; 0 = never */
  lastMountTime: number;
  /** signed; -1 or 0 = no limit */
  maxMountCount: number;
  featureCompat: number;
  featureIncompat: number;
  featureRoCompat: number;
  /** feature names as dumpe2fs prints them, for messages and the manifest */
  features: string[];
  /** filesystem size in bytes = blocksCount × blockSize */
  sizeBytes: number;
}

/** Parses the 1024-byte superblock; null when the magic is not there. */
export function parseExtSuperblock(sb: Uint8Array): ExtInfo | null {
  const v = new DataView(sb.buffer, sb.byteOffset, sb.byteLength);
  if (sb.byteLength < 1024 || v.getUint16(56, true) !== EXT_MAGIC) return null;
  const u32 = (o: number) => v.getUint32(o, true);
  const featureCompat = u32(92);
  const featureIncompat = u32(96);
  const featureRoCompat = u32(100);
  const is64 = (featureIncompat & INCOMPAT_64BIT) !== 0;
  const logBlockSize = u32(24);
  const blockSize = logBlockSize <= 6 ? 1024 << logBlockSize : 0;
  const blocksCount = u32(4) + (is64 ? u32(336) * 2 ** 32 : 0);
  const freeBlocks = u32(12) + (is64 ? u32(344) * 2 ** 32 : 0);
  const reservedBlocks = u32(8) + (is64 ? u32(340) * 2 ** 32 : 0);
  const firstDataBlock = u32(20);
  const blocksPerGroup = u32(32);
  const revLevel = u32(76);
  const inodeSize = revLevel === 0 ? 128 : v.getUint16(88, true);
  const descSize = is64 ? v.getUint16(254, true) : 32;
  const groupCount =
    blocksPerGroup > 0 && blocksCount > firstDataBlock
      ? Math.ceil((blocksCount - firstDataBlock) / blocksPerGroup)
      : 0;
  const features = FEATURE_NAMES.filter(([field, bit]) => {
    const value =
      field === 'featureCompat'
        ? featureCompat
        : field === 'featureIncompat'
          ? featureIncompat
          : featureRoCompat;
    return (value & bit) !== 0;
  }).map(([, , name]) => name);
  const type =
    featureIncompat & ~(0x0002 | 0x0004 | 0x0008 | 0x0010) || featureRoCompat & ~(0x0001 | 0x0002 | 0x0004)
      ? 'ext4'
      : featureCompat & COMPAT_HAS_JOURNAL
        ? 'ext3'
        : 'ext2';
  return {
    type,
    blockSize,
    blocksCount,
    freeBlocks,
    reservedBlocks,
    inodesCount: u32(0),
    freeInodes: u32(16),
    firstDataBlock,
    blocksPerGroup,
    inodesPerGroup: u32(40),
    inodeSize,
    groupCount,
    descSize,
    reservedGdtBlocks: v.getUint16(206, true),
    logGroupsPerFlex: featureIncompat & INCOMPAT_FLEX_BG ? sb[372]! : 0,
    firstMetaBg: u32(260),
    backupBgs: [u32(0x24c), u32(0x250)],
    uuid: formatUuid(sb.subarray(104, 120)),
    label: cString(sb.subarray(120, 136)),
    lastMounted: cString(sb.subarray(136, 200)),
    state: v.getUint16(58, true),
    mountCount: v.getUint16(52, true),
    lastMountTime: u32(44) + sb[0x275]! * 2 ** 32,
    maxMountCount: v.getInt16(54, true),
    featureCompat,
    featureIncompat,
    featureRoCompat,
    features,
    sizeBytes: blocksCount * blockSize,
  };
}

function formatUuid(b: Uint8Array): string {
  const hex = Buffer.from(b).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function cString(b: Uint8Array): string {
  const end = b.indexOf(0);
  return Buffer.from(end < 0 ? b : b.subarray(0, end)).toString('utf8');
}

/** Reads the superblock of the ext filesystem starting at byte `offset`; FS_UNSUPPORTED when there is none. */
export async function readExtInfo(file: BlockFile, offset: number): Promise<ExtInfo> {
  const sb = await readSuperblockBytes(file, offset);
  const info = sb && parseExtSuperblock(sb);
  if (!info) {
    throw new AtlasError('FS_UNSUPPORTED', `No ext2/3/4 filesystem at byte ${offset} of ${file.path}.`, {
      offset,
    });
  }
  return info;
}

export async function readSuperblockBytes(file: BlockFile, offset: number): Promise<Uint8Array | null> {
  if (file.size < offset + 2048) return null;
  return readAligned(file, offset + 1024, 1024);
}

/** Quick test used by detectFilesystem. */
export async function isExt(file: BlockFile, offset: number): Promise<boolean> {
  const sb = await readSuperblockBytes(file, offset);
  return sb !== null && parseExtSuperblock(sb) !== null;
}
