/**
 * FAT12/16/32 used-block map at sector granularity, by partclone.fat 0.3.23's rules (fatclone.c):
 * every sector starts used; the reserved sectors, all FAT copies and the fixed root directory stay used;
 * cluster k is decided by FAT entry k+2 of the first FAT (0 or BAD → its sectors free, else used); the
 * sectors after the last whole cluster stay used; padding bits are 1.
 *
 * FAT12 deviation, on purpose: 0.3.23 reads FAT12 entries as consecutive 16-bit words shifted right by 4,
 * which is wrong for any FAT12 holding files (entries are 12-bit, packed two per three bytes; fixed in later
 * partclone). We decode the 12-bit entries correctly, so our map equals 0.3.23's only when the two
 * decodings agree (e.g. an empty FAT12) and otherwise is the map newer partclone computes.
 */
import type { BlockFile } from '../io/block-file';
import { AtlasError } from '../errors';
import type { UsedBlockMap } from './types';
import { clearBitRange, countUsed, setPaddingBits } from './bitmap';
import { readAligned } from './aligned-read';

export type FatType = 'FAT12' | 'FAT16' | 'FAT32';

export interface FatInfo {
  type: FatType;
  /** the boot sector's volume label, trailing spaces removed; '' for "NO NAME" */
  label: string;
  /** the 32-bit volume serial number */
  volumeId: number;
  /** as blkid prints it: 'ABCD-1234' */
  uuid: string;
  /** total sectors of the filesystem (BPB TotSec16, else TotSec32) */
  sectors: number;
  bytesPerSector: number;
  sectorsPerCluster: number;
  reservedSectors: number;
  fatCount: number;
  sectorsPerFat: number;
  rootEntries: number;
  /** reserved + FATs + fixed root directory, in sectors: where cluster 2 starts */
  metaSectors: number;
  /** whole clusters in the data area */
  clusterCount: number;
  /** filesystem size in bytes = sectors × bytesPerSector */
  sizeBytes: number;
}

const FAT12_THRESHOLD = 4085;

/** Parses a boot sector the way partclone does; null when it does not look like FAT. */
export function parseFatBootSector(bs: Uint8Array): FatInfo | null {
  if (bs.byteLength < 512) return null;
  const v = new DataView(bs.buffer, bs.byteOffset, bs.byteLength);
  const u16 = (o: number) => v.getUint16(o, true);
  const u32 = (o: number) => v.getUint32(o, true);
  const bps = u16(11);
  const spc = bs[13]!;
  const reserved = u16(14);
  const fats = bs[16]!;
  const rootEntries = u16(17);
  const media = bs[21]!;
  const fatLen16 = u16(22);
  const fatLen32 = u32(36);
  const sectors = u16(19) || u32(32);
  // sanity beyond partclone's own tests, so that detection does not take random data for FAT
  const jumpOk = (bs[0] === 0xeb && bs[2] === 0x90) || bs[0] === 0xe9 || bs[0] === 0xeb;
  if (!jumpOk || u16(510) !== 0xaa55) return null;
  if (![512, 1024, 2048, 4096].includes(bps)) return null;
  if (spc === 0 || (spc & (spc - 1)) !== 0) return null;
  if (reserved === 0 || fats === 0 || fats > 4 || sectors === 0) return null;
  if (media !== 0xf0 && media < 0xf8) return null;
  const sectorsPerFat = fatLen16 || fatLen32;
  if (sectorsPerFat === 0) return null;

  const rootSectors = Math.ceil((rootEntries * 32) / bps);
  const metaSectors = reserved + fats * sectorsPerFat + rootSectors;
  const clusterCount = metaSectors > sectors ? 0 : Math.floor((sectors - metaSectors) / spc);

  // partclone's get_fat_type: FAT12/16 by the extended boot signature at 0x26 or a 16-bit FAT length,
  // then by the cluster count; FAT32 by "FAT32" or a 32-bit FAT length
  let type: FatType;
  let labelAt: number;
  if (bs[38] === 0x29 || (fatLen16 && !fatLen32)) {
    if (clusterCount <= 0) return null;
    type = clusterCount >= FAT12_THRESHOLD ? 'FAT16' : 'FAT12';
    labelAt = 39;
  } else if (bs[86] === 0x32 /* '2' of "FAT32" */ || (!fatLen16 && fatLen32)) {
    type = 'FAT32';
    labelAt = 67;
  } else {
    return null;
  }
  const volumeId = u32(labelAt);
  const rawLabel = Buffer.from(bs.subarray(labelAt + 4, labelAt + 15))
    .toString('latin1')
    .replace(/[\0 ]+$/, '');
  const hex = volumeId.toString(16).toUpperCase().padStart(8, '0');
  return {
    type,
    label: rawLabel === 'NO NAME' ? '' : rawLabel,
    volumeId,
    uuid: `${hex.slice(0, 4)}-${hex.slice(4)}`,
    sectors,
    bytesPerSector: bps,
    sectorsPerCluster: spc,
    reservedSectors: reserved,
    fatCount: fats,
    sectorsPerFat,
    rootEntries,
    metaSectors,
    clusterCount,
    sizeBytes: sectors * bps,
  };
}

async function readBootSector(file: BlockFile, offset: number): Promise<Uint8Array | null> {
  if (file.size < offset + 512) return null;
  return readAligned(file, offset, 512);
}

export async function isFat(file: BlockFile, offset: number): Promise<boolean> {
  const bs = await readBootSector(file, offset);
  return bs !== null && parseFatBootSector(bs) !== null;
}

/** Reads the boot sector of the FAT filesystem starting at byte `offset`; FS_UNSUPPORTED when there is none. */
export async function readFatInfo(file: BlockFile, offset: number): Promise<FatInfo> {
  const bs = await readBootSector(file, offset);
  const info = bs && parseFatBootSector(bs);
  if (!info)
    throw new AtlasError('FS_UNSUPPORTED', `No FAT filesystem at byte ${offset} of ${file.path}.`, {
      offset,
    });
  return info;
}

/** Reads `length` bytes at `position`, zero-filling whatever lies past the end of the file (as partclone sees it). */
function readZeroPadded(file: BlockFile, position: number, length: number): Promise<Uint8Array> {
  return readAligned(file, position, length);
}

/**
 * The used-block map partclone.fat writes for the FAT filesystem that starts at byte `offset`.
 * Refuses (FS_NOT_CLEAN) a FAT16/32 whose dirty or I/O-error flag is set in FAT entry 1, unless
 * `ignoreFsState` (partclone 0.3.23 refuses those even with -I).
 */
export async function readFatUsedMap(
  file: BlockFile,
  offset: number,
  options: { ignoreFsState?: boolean } = {},
): Promise<UsedBlockMap> {
  const info = await readFatInfo(file, offset);
  const {
    type,
    sectors: T,
    bytesPerSector: bps,
    sectorsPerCluster: spc,
    metaSectors: meta,
    clusterCount: N,
  } = info;
  if (T + 8 > 2 ** 31) {
    throw new AtlasError(
      'UNSUPPORTED',
      `The FAT filesystem at byte ${offset} of ${file.path} has too many sectors for Atlas.`,
    );
  }
  const fatStart = offset + info.reservedSectors * bps;
  const head = await readZeroPadded(file, fatStart, 8);
  const hv = new DataView(head.buffer, head.byteOffset, head.byteLength);
  if (!options.ignoreFsState && type !== 'FAT12') {
    const entry1 = type === 'FAT32' ? hv.getUint32(4, true) : hv.getUint16(2, true);
    const [cleanBit, ioBit] = type === 'FAT32' ? [0x08000000, 0x04000000] : [0x8000, 0x4000];
    const where = `The ${type} filesystem at byte ${offset} of ${file.path}`;
    if (!(entry1 & cleanBit)) {
      throw new AtlasError(
        'FS_NOT_CLEAN',
        `${where} was not cleanly unmounted (its dirty flag is set). Unmount it, or run fsck.vfat -a on it, before cloning.`,
        { offset, entry1 },
      );
    }
    if (!(entry1 & ioBit)) {
      throw new AtlasError(
        'FS_NOT_CLEAN',
        `${where} records an I/O error (its hard-error flag is set). Run fsck.vfat on it and check the card before cloning.`,
        { offset, entry1 },
      );
    }
  }

  const bitmap = new Uint8Array(Math.ceil(T / 8)).fill(0xff);
  // FAT entries k+2 for k = 0..N-1, read in large chunks
  const entryBits = type === 'FAT32' ? 32 : type === 'FAT16' ? 16 : 12;
  const bad = type === 'FAT32' ? 0x0ffffff7 : type === 'FAT16' ? 0xfff7 : 0xff7;
  const chunkEntries = 1 << 20;
  // free clusters are cleared as runs: free space is mostly contiguous, so this is a few calls, not millions
  let runFrom = 0;
  let runTo = 0;
  for (let first = 2; first < N + 2; first += chunkEntries) {
    const last = Math.min(N + 2, first + chunkEntries); // exclusive
    const byteFrom = Math.floor((first * entryBits) / 8);
    const byteTo = Math.ceil((last * entryBits) / 8) + 1;
    const buf = await readZeroPadded(file, fatStart + byteFrom, byteTo - byteFrom);
    const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    for (let e = first; e < last; e++) {
      let value: number;
      if (entryBits === 32) value = view.getUint32(e * 4 - byteFrom, true);
      else if (entryBits === 16) value = view.getUint16(e * 2 - byteFrom, true);
      else {
        const w = view.getUint16(Math.floor((e * 3) / 2) - byteFrom, true);
        value = e & 1 ? w >>> 4 : w & 0xfff;
      }
      if (value === 0 || value === bad) {
        const s = meta + (e - 2) * spc;
        if (s !== runTo) {
          clearBitRange(bitmap, runFrom, runTo);
          runFrom = s;
        }
        runTo = s + spc;
      }
    }
  }
  clearBitRange(bitmap, runFrom, runTo);
  setPaddingBits(bitmap, T);
  const usedBlocks = countUsed(bitmap, T);
  return {
    fsName: type,
    partcloneTool: type === 'FAT32' ? 'fat32' : type === 'FAT16' ? 'fat16' : 'fat12',
    blockSize: bps,
    totalBlocks: T,
    bitmap,
    usedBlocks,
    superblockUsed: usedBlocks,
  };
}
