/**
 * Filesystem readers: which blocks of a partition are in use, as partclone computes it, and the few
 * superblock facts (size, label, uuid) restore and insert need.
 */
import type { BlockFile } from '../io/block-file';
import { AtlasError } from '../errors';
import type { UsedBlockMap } from './types';
import { isExt, readExtUsedMap } from './ext';
import { isFat, readFatUsedMap } from './fat';

export type { UsedBlockMap, PartcloneFsName } from './types';
export { readExtUsedMap, readExtInfo, parseExtSuperblock, isExt } from './ext';
export type { ExtInfo } from './ext';
export { readFatUsedMap, readFatInfo, parseFatBootSector, isFat } from './fat';
export type { FatInfo, FatType } from './fat';
export { isBlockUsed, countUsed, countBits, usedRuns, setPaddingBits } from './bitmap';
export type { BlockRun } from './bitmap';

export type FilesystemKind = 'ext' | 'fat';

export interface UsedMapOptions {
  /** Map a filesystem even if it has errors or was not cleanly unmounted (partclone -I). */
  ignoreFsState?: boolean;
}

/** Which filesystem starts at byte `offset`: 'ext' (ext2/3/4), 'fat' (FAT12/16/32) or null. */
export async function detectFilesystem(file: BlockFile, offset: number): Promise<FilesystemKind | null> {
  if (await isExt(file, offset)) return 'ext';
  if (await isFat(file, offset)) return 'fat';
  return null;
}

/** The used-block map of whichever supported filesystem starts at `offset`; FS_UNSUPPORTED otherwise. */
export async function readUsedBlockMap(
  file: BlockFile,
  offset: number,
  options: UsedMapOptions = {},
): Promise<UsedBlockMap> {
  const kind = await detectFilesystem(file, offset);
  if (kind === 'ext') return readExtUsedMap(file, offset, options);
  if (kind === 'fat') return readFatUsedMap(file, offset, options);
  throw new AtlasError(
    'FS_UNSUPPORTED',
    `No ext2/3/4 or FAT filesystem at byte ${offset} of ${file.path}; Atlas can only clone those.`,
    { offset },
  );
}
