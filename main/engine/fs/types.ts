/**
 * A filesystem's used-block map, exactly as partclone computes it: the bitmap a partclone image carries.
 * Produced by the ext and FAT readers in this folder, consumed by the partclone writer, the clone job and
 * the used-blocks-only flash (jobs/flash/plan.ts).
 */
export type PartcloneFsName = 'EXTFS' | 'FAT12' | 'FAT16' | 'FAT32';

export interface UsedBlockMap {
  /** the name partclone writes into the image header */
  fsName: PartcloneFsName;
  /** the partclone program that restores it: 'ext4' (any ext2/3/4) or 'fat32' / 'fat16' / 'fat12' */
  partcloneTool: 'ext4' | 'fat32' | 'fat16' | 'fat12';
  /** bytes per block: the ext block size, or the FAT sector size */
  blockSize: number;
  /** blocks in the filesystem (= bits in the bitmap); the filesystem may be smaller than its partition */
  totalBlocks: number;
  /** ceil(totalBlocks / 8) bytes, block i used iff bit (i % 8) of byte (i >> 3); padding bits set to 1 */
  bitmap: Uint8Array;
  /** set bits below totalBlocks */
  usedBlocks: number;
  /** used blocks by the superblock's own count (ext: blocks_count - free_blocks_count; FAT: = usedBlocks) */
  superblockUsed: number;
}
