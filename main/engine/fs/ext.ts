/**
 * ext2/3/4 used-block map, computed the way partclone.ext4 0.3.23 does it through libext2fs 1.47
 * (ext2fs_read_bitmaps + partclone's read_bitmap): the on-disk block bitmaps copied group by group from
 * s_first_data_block, with the metadata bits libext2fs synthesizes for BLOCK_UNINIT groups, blocks before
 * s_first_data_block and padding bits left used, and partclone's free-count checks.
 */
import type { BlockFile } from '../io/block-file';
import { AtlasError } from '../errors';
import type { UsedBlockMap } from './types';
import { countBits, setBitRange, setPaddingBits } from './bitmap';
import { crc16, crc32cLe } from './crc';
import { readAligned } from './aligned-read';
import {
  STATE_VALID,
  STATE_ERROR,
  COMPAT_SPARSE_SUPER2,
  INCOMPAT_RECOVER,
  INCOMPAT_JOURNAL_DEV,
  INCOMPAT_META_BG,
  INCOMPAT_64BIT,
  INCOMPAT_CSUM_SEED,
  RO_COMPAT_SPARSE_SUPER,
  RO_COMPAT_GDT_CSUM,
  RO_COMPAT_BIGALLOC,
  RO_COMPAT_METADATA_CSUM,
  BG_BLOCK_UNINIT,
  parseExtSuperblock,
  readSuperblockBytes,
  type ExtInfo,
} from './ext-superblock';

export { isExt, parseExtSuperblock, readExtInfo, type ExtInfo } from './ext-superblock';

interface GroupDesc {
  blockBitmap: number;
  /** bg_block_bitmap_csum_lo | hi << 16 (hi only in 64-byte descriptors) */
  blockBitmapCsum: number;
  inodeBitmap: number;
  inodeTable: number;
  freeBlocks: number;
  flags: number;
}

function bad(file: BlockFile, offset: number, why: string): AtlasError {
  return new AtlasError(
    'FS_UNSUPPORTED',
    `The ext filesystem at byte ${offset} of ${file.path} looks corrupt (${why}). Run e2fsck -f on it.`,
    { offset },
  );
}

/** libext2fs's geometry checks (ext2fs_open2) and the features we do not map. */
function checkGeometry(file: BlockFile, offset: number, info: ExtInfo): void {
  if (info.featureRoCompat & RO_COMPAT_BIGALLOC) {
    throw new AtlasError(
      'UNSUPPORTED',
      `The ext4 filesystem at byte ${offset} of ${file.path} uses bigalloc, which partclone 0.3.23 cannot clone and Atlas does not support.`,
      { offset, feature: 'bigalloc' },
    );
  }
  if (info.featureIncompat & INCOMPAT_JOURNAL_DEV) {
    throw new AtlasError(
      'UNSUPPORTED',
      `The ext filesystem at byte ${offset} of ${file.path} is an external journal device, not a filesystem Atlas can clone.`,
      { offset, feature: 'journal_dev' },
    );
  }
  if (info.blockSize === 0 || info.blockSize > 65536) throw bad(file, offset, 'block size');
  if (info.blocksPerGroup < 8 || info.blocksPerGroup > 8 * info.blockSize || info.blocksPerGroup % 8 !== 0)
    throw bad(file, offset, 'blocks per group');
  if (info.inodesPerGroup === 0) throw bad(file, offset, 'inodes per group');
  if (info.firstDataBlock >= info.blocksCount) throw bad(file, offset, 'first data block');
  if (info.featureIncompat & INCOMPAT_64BIT) {
    const d = info.descSize;
    if (d < 64 || d > 1024 || (d & (d - 1)) !== 0) throw bad(file, offset, `group descriptor size ${d}`);
  }
  if (info.groupCount * info.inodesPerGroup !== info.inodesCount) throw bad(file, offset, 'inode count');
  if (info.blocksCount + 8 > 2 ** 31) {
    throw new AtlasError(
      'UNSUPPORTED',
      `The ext filesystem at byte ${offset} of ${file.path} has too many blocks for Atlas.`,
      {
        offset,
      },
    );
  }
}

/** partclone's fs_open checks, plus a journal that still needs replaying (the same situation in practice). */
function checkClean(file: BlockFile, offset: number, info: ExtInfo): void {
  const where = `The ext filesystem at byte ${offset} of ${file.path}`;
  const details = { offset, state: info.state };
  if (info.state & STATE_ERROR) {
    throw new AtlasError('FS_NOT_CLEAN', `${where} has errors. Run e2fsck -f on it before cloning.`, details);
  }
  if (!(info.state & STATE_VALID) || info.featureIncompat & INCOMPAT_RECOVER) {
    throw new AtlasError(
      'FS_NOT_CLEAN',
      `${where} was not cleanly unmounted (or is still mounted). Unmount it, or shut the kiosk down properly, then run e2fsck -f on it.`,
      details,
    );
  }
  if (info.maxMountCount > 0 && info.mountCount >= info.maxMountCount) {
    throw new AtlasError(
      'FS_NOT_CLEAN',
      `${where} has been mounted ${info.mountCount} times without being checked. Run e2fsck -f on it before cloning.`,
      details,
    );
  }
}

/** ext2fs_init_csum_seed */
function csumSeed(sb: Uint8Array, info: ExtInfo): number {
  if (info.featureIncompat & INCOMPAT_CSUM_SEED)
    return new DataView(sb.buffer, sb.byteOffset).getUint32(0x270, true);
  return crc32cLe(0xffffffff, sb.subarray(104, 120));
}

/** ext2fs_group_desc_csum_verify: crc32c (metadata_csum) or crc16 (uninit_bg) over the descriptor. */
function groupDescCsumOk(
  sb: Uint8Array,
  info: ExtInfo,
  raw: Uint8Array,
  group: number,
  seed: number,
): boolean {
  const desc = raw.subarray(group * info.descSize, (group + 1) * info.descSize);
  const stored = desc[0x1e]! | (desc[0x1f]! << 8);
  const groupLe = new Uint8Array(4);
  new DataView(groupLe.buffer).setUint32(0, group, true);
  if (info.featureRoCompat & RO_COMPAT_METADATA_CSUM) {
    const zeroed = Uint8Array.from(desc);
    zeroed[0x1e] = 0;
    zeroed[0x1f] = 0;
    return (crc32cLe(crc32cLe(seed, groupLe), zeroed) & 0xffff) === stored;
  }
  let crc = crc16(0xffff, sb.subarray(104, 120));
  crc = crc16(crc, groupLe);
  crc = crc16(crc, desc.subarray(0, 0x1e));
  if (desc.length > 0x20) crc = crc16(crc, desc.subarray(0x20));
  return crc === stored;
}

/** ext2fs_bg_has_super */
function groupHasSuper(info: ExtInfo, group: number): boolean {
  if (group === 0) return true;
  if (info.featureCompat & COMPAT_SPARSE_SUPER2)
    return group === info.backupBgs[0] || group === info.backupBgs[1];
  if (group <= 1 || !(info.featureRoCompat & RO_COMPAT_SPARSE_SUPER)) return true;
  if (!(group & 1)) return false;
  return isPowerOf(group, 3) || isPowerOf(group, 5) || isPowerOf(group, 7);
}

function isPowerOf(n: number, base: number): boolean {
  let x = base;
  while (x < n) x *= base;
  return x === n;
}

function groupFirstBlock(info: ExtInfo, group: number): number {
  return info.firstDataBlock + group * info.blocksPerGroup;
}

async function readGroupDescriptors(
  file: BlockFile,
  offset: number,
  info: ExtInfo,
): Promise<{ groups: GroupDesc[]; raw: Uint8Array }> {
  const bs = info.blockSize;
  const perBlock = bs / info.descSize;
  const descBlocks = Math.ceil(info.groupCount / perBlock);
  const metaBg = (info.featureIncompat & INCOMPAT_META_BG) !== 0;
  if (metaBg && info.firstMetaBg > descBlocks) throw bad(file, offset, 'first meta block group');
  const firstMetaBg = metaBg ? info.firstMetaBg : descBlocks;
  const raw = new Uint8Array(descBlocks * bs);
  if (firstMetaBg > 0) {
    raw.set(
      await readAligned(file, offset + (info.firstDataBlock + 1) * bs, firstMetaBg * bs, { exact: true }),
      0,
    );
  }
  // meta_bg: descriptor block i lives in the first group of its meta group (ext2fs_descriptor_block_loc2)
  for (let i = firstMetaBg; i < descBlocks; i++) {
    const bg = perBlock * i;
    const blk = groupFirstBlock(info, bg) + (groupHasSuper(info, bg) ? 1 : 0);
    raw.set(await readAligned(file, offset + blk * bs, bs, { exact: true }), i * bs);
  }
  const view = new DataView(raw.buffer);
  const hi = (info.featureIncompat & INCOMPAT_64BIT) !== 0 && info.descSize >= 64;
  const groups: GroupDesc[] = [];
  for (let g = 0; g < info.groupCount; g++) {
    const o = g * info.descSize;
    const lo32 = (x: number) => view.getUint32(o + x, true);
    groups.push({
      blockBitmap: lo32(0) + (hi ? lo32(0x20) * 2 ** 32 : 0),
      inodeBitmap: lo32(4) + (hi ? lo32(0x24) * 2 ** 32 : 0),
      inodeTable: lo32(8) + (hi ? lo32(0x28) * 2 ** 32 : 0),
      freeBlocks: view.getUint16(o + 12, true) + (hi ? view.getUint16(o + 0x2c, true) * 65536 : 0),
      flags: view.getUint16(o + 18, true),
      blockBitmapCsum:
        view.getUint16(o + 0x18, true) + (info.descSize >= 0x3c ? view.getUint16(o + 0x38, true) * 65536 : 0),
    });
  }
  return { groups, raw };
}

/** Reads the given bitmap blocks, merging neighbours into large reads (flex_bg packs them together). */
async function readBitmapBlocks(
  file: BlockFile,
  offset: number,
  blockSize: number,
  locations: number[],
): Promise<Map<number, Uint8Array>> {
  const sorted = [...new Set(locations)].sort((a, b) => a - b);
  const maxRun = Math.max(1, Math.floor((4 << 20) / blockSize));
  const runs: Array<{ first: number; count: number; blocks: number[] }> = [];
  for (const blk of sorted) {
    const last = runs[runs.length - 1];
    // a small gap is cheaper to read through than to seek over
    if (last && blk - (last.first + last.count) <= 8 && blk - last.first < maxRun) {
      last.count = blk - last.first + 1;
      last.blocks.push(blk);
    } else runs.push({ first: blk, count: 1, blocks: [blk] });
  }
  const out = new Map<number, Uint8Array>();
  let next = 0;
  const worker = async () => {
    while (next < runs.length) {
      const run = runs[next++]!;
      const data = await readAligned(file, offset + run.first * blockSize, run.count * blockSize, {
        exact: true,
      });
      for (const blk of run.blocks) {
        const at = (blk - run.first) * blockSize;
        out.set(blk, data.subarray(at, at + blockSize));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(8, runs.length) }, worker));
  return out;
}

/** ORs `nbits` bits of `src` (from bit 0) into `dst` starting at bit `at`, never past bit `limit`. */
function orBits(dst: Uint8Array, at: number, src: Uint8Array, nbits: number, limit: number): void {
  const n = Math.min(nbits, limit - at);
  if (n <= 0) return;
  const shift = at & 7;
  const base = at >>> 3;
  const wholeBytes = n >>> 3;
  if (shift === 0) {
    for (let i = 0; i < wholeBytes; i++) dst[base + i]! |= src[i]!;
  } else {
    for (let i = 0; i < wholeBytes; i++) {
      const b = src[i]!;
      dst[base + i]! |= (b << shift) & 0xff;
      if (base + i + 1 < dst.length) dst[base + i + 1]! |= b >>> (8 - shift);
    }
  }
  for (let k = wholeBytes * 8; k < n; k++) {
    if (src[k >>> 3]! & (1 << (k & 7))) dst[(at + k) >>> 3]! |= 1 << ((at + k) & 7);
  }
  // bits pushed past `limit` by the byte-wise copy are cleared again by the caller's padding pass
}

/**
 * The used-block map partclone.ext4 writes for the ext2/3/4 filesystem that starts at byte `offset`.
 * Refuses (FS_NOT_CLEAN) a filesystem with errors, not cleanly unmounted or due a check, or whose bitmaps
 * disagree with its free counts, unless `ignoreFsState`.
 */
export async function readExtUsedMap(
  file: BlockFile,
  offset: number,
  options: { ignoreFsState?: boolean } = {},
): Promise<UsedBlockMap> {
  const sb = await readSuperblockBytes(file, offset);
  const info = sb && parseExtSuperblock(sb);
  if (!sb || !info) {
    throw new AtlasError('FS_UNSUPPORTED', `No ext2/3/4 filesystem at byte ${offset} of ${file.path}.`, {
      offset,
    });
  }
  checkGeometry(file, offset, info);
  if (!options.ignoreFsState) checkClean(file, offset, info);
  const metadataCsum = (info.featureRoCompat & RO_COMPAT_METADATA_CSUM) !== 0;
  const csumProblem = (what: string) =>
    new AtlasError(
      'FS_NOT_CLEAN',
      `The ext filesystem at byte ${offset} of ${file.path} has a bad ${what} checksum. Run e2fsck -f on it before cloning.`,
      { offset, what },
    );
  // libext2fs refuses these (ext2fs_open2, ext2fs_read_bitmaps), so partclone does too
  if (metadataCsum && !options.ignoreFsState) {
    const stored = new DataView(sb.buffer, sb.byteOffset).getUint32(0x3fc, true);
    if (crc32cLe(0xffffffff, sb.subarray(0, 0x3fc)) !== stored) throw csumProblem('superblock');
  }

  const T = info.blocksCount;
  const bs = info.blockSize;
  const bpg = info.blocksPerGroup;
  const { groups, raw } = await readGroupDescriptors(file, offset, info);
  const csumFlag = (info.featureRoCompat & (RO_COMPAT_GDT_CSUM | RO_COMPAT_METADATA_CSUM)) !== 0;
  const seed = metadataCsum ? csumSeed(sb, info) : 0;

  // libext2fs skips the on-disk bitmap of a BLOCK_UNINIT group whose descriptor checksum is right, and of a
  // group whose bitmap lies outside the filesystem, and starts from zeros there
  const toRead = groups.map((gd, g) =>
    (csumFlag && gd.flags & BG_BLOCK_UNINIT && groupDescCsumOk(sb, info, raw, g, seed)) ||
    gd.blockBitmap === 0 ||
    gd.blockBitmap >= T
      ? 0
      : gd.blockBitmap,
  );
  const blocks = await readBitmapBlocks(
    file,
    offset,
    bs,
    toRead.filter((b) => b !== 0),
  );

  const bitmap = new Uint8Array(Math.ceil(T / 8));
  const bytesPerGroupBitmap = bpg / 8;
  for (let g = 0; g < groups.length; g++) {
    const blk = toRead[g]!;
    if (blk === 0) continue;
    const groupBits = blocks.get(blk)!.subarray(0, bytesPerGroupBitmap);
    if (metadataCsum && !options.ignoreFsState) {
      // ext2fs_block_bitmap_csum_verify: only the low 16 bits are stored in 32-byte descriptors
      let calc = crc32cLe(seed, groupBits);
      if (info.descSize < 0x3c) calc &= 0xffff;
      if (calc !== groups[g]!.blockBitmapCsum) throw csumProblem(`block bitmap (group ${g})`);
    }
    orBits(bitmap, groupFirstBlock(info, g), groupBits, bpg, T);
  }

  // mark_uninit_bg_group_blocks: the metadata of BLOCK_UNINIT groups (the flag alone decides here)
  const mark = (blk: number) => {
    if (blk >= info.firstDataBlock && blk < T) bitmap[blk >>> 3]! |= 1 << (blk & 7);
  };
  // ext2fs_mark_block_bitmap_range2 drops a range that does not fit entirely
  const markRange = (blk: number, n: number) => {
    if (n > 0 && blk >= info.firstDataBlock && blk + n - 1 < T) setBitRange(bitmap, blk, blk + n);
  };
  const inodeBlocksPerGroup = Math.ceil((info.inodesPerGroup * info.inodeSize) / bs);
  const perBlock = bs / info.descSize;
  const descBlocks = Math.ceil(info.groupCount / perBlock);
  const metaBg = (info.featureIncompat & INCOMPAT_META_BG) !== 0;
  const oldDescBlocks = metaBg ? info.firstMetaBg : descBlocks + info.reservedGdtBlocks;
  for (let g = 0; g < groups.length; g++) {
    const gd = groups[g]!;
    if (!(gd.flags & BG_BLOCK_UNINIT)) continue;
    // ext2fs_reserve_super_and_bgd via ext2fs_super_and_bgd_loc2
    let groupBlock = groupFirstBlock(info, g);
    if (groupBlock === 0 && bs === 1024) groupBlock = 1;
    const hasSuper = groupHasSuper(info, g);
    const superBlk = hasSuper ? groupBlock : 0;
    let oldDescBlk = 0;
    let newDescBlk = 0;
    const metaGroup = Math.floor(g / perBlock);
    if (!metaBg || metaGroup < info.firstMetaBg) {
      if (hasSuper) oldDescBlk = groupBlock + 1;
    } else {
      const r = g % perBlock;
      if (r === 0 || r === 1 || r === perBlock - 1) newDescBlk = groupBlock + (hasSuper ? 1 : 0);
    }
    if (superBlk || g === 0) mark(superBlk);
    if (oldDescBlk) {
      let n = oldDescBlocks;
      if (oldDescBlk + n >= T) n = T - oldDescBlk;
      markRange(oldDescBlk, n);
    }
    if (newDescBlk) mark(newDescBlk);
    if (gd.inodeTable) markRange(gd.inodeTable, inodeBlocksPerGroup);
    if (gd.blockBitmap) mark(gd.blockBitmap);
    if (gd.inodeBitmap) mark(gd.inodeBitmap);
  }

  // partclone's checks: free blocks per group (tolerated for BLOCK_UNINIT groups only with the old
  // gdt_csum feature) and in total
  const gdtCsum = (info.featureRoCompat & RO_COMPAT_GDT_CSUM) !== 0;
  let free = 0;
  let uninitMismatch = false;
  const problems: string[] = [];
  for (let g = 0; g < groups.length; g++) {
    const from = groupFirstBlock(info, g);
    const to = Math.min(from + bpg, T);
    const groupFree = to - from - countBits(bitmap, from, to);
    free += groupFree;
    if (groupFree !== groups[g]!.freeBlocks) {
      if (gdtCsum && groups[g]!.flags & BG_BLOCK_UNINIT) uninitMismatch = true;
      else if (problems.length < 3)
        problems.push(`group ${g}: bitmap ${groupFree} free, descriptor ${groups[g]!.freeBlocks}`);
    }
  }
  if (free !== info.freeBlocks && !(gdtCsum && uninitMismatch)) {
    problems.push(`bitmap ${free} free blocks, superblock ${info.freeBlocks}`);
  }
  if (problems.length > 0 && !options.ignoreFsState) {
    throw new AtlasError(
      'FS_NOT_CLEAN',
      `The ext filesystem at byte ${offset} of ${file.path} has block bitmaps that disagree with its free counts (${problems[0]}). Run e2fsck -f on it before cloning.`,
      { offset, problems },
    );
  }

  // blocks before s_first_data_block and the padding bits stay as partclone initialised them: used
  setBitRange(bitmap, 0, info.firstDataBlock);
  setPaddingBits(bitmap, T);
  const usedBlocks = T - free;
  return {
    fsName: 'EXTFS',
    partcloneTool: 'ext4',
    blockSize: bs,
    totalBlocks: T,
    bitmap,
    usedBlocks,
    superblockUsed: T - info.freeBlocks,
  };
}
