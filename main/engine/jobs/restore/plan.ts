/**
 * What restore knows before the first byte is written: the clone's partition table, every partition image's
 * header (not its data) paired with its partition, and whether the layout fits each card.
 */
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { AtlasError } from '../../errors';
import { formatBytes } from '../../format';
import { openMaybeGzipped } from '../../compress/gunzip';
import { openPartcloneStream, type PartcloneHeader } from '../../partclone';
import { parseSfdiskDump } from '../../partition';
import type { PartitionEntry, PartitionTable } from '../../partition/types';
import { DUMP_FILE, type FolderImage } from '../../library/clone-folder';
import { tableExtentBytes } from '../../library/clone-needs';
import { inFile } from '../verify';

export interface PlannedImage {
  image: FolderImage;
  entry: PartitionEntry;
  header: PartcloneHeader;
  usedBlocks: number;
}

export async function readDump(folder: string): Promise<PartitionTable> {
  const text = await fsp.readFile(join(folder, DUMP_FILE), 'utf8');
  return parseSfdiskDump(text);
}

/** Reads each image's header (not its data) and pairs it with its partition. */
export async function readHeaders(
  folder: string,
  images: FolderImage[],
  table: PartitionTable,
): Promise<PlannedImage[]> {
  const planned: PlannedImage[] = [];
  for (const image of images) {
    const entry = table.partitions.find((p) => p.number === image.number);
    if (!entry) {
      throw new AtlasError(
        'INVALID_ARGUMENT',
        `${image.file} is for partition ${image.number}, which ${DUMP_FILE} does not have.`,
      );
    }
    const { stream } = await openMaybeGzipped(join(folder, image.file), { headOnly: true });
    const reader = await openPartcloneStream(stream).catch((error: unknown) => {
      stream.destroy();
      return inFile(image.file)(error);
    });
    await reader.close();
    const fsBytes = reader.header.totalBlocks * reader.header.blockSize;
    if (fsBytes > entry.size * table.sectorSize) {
      throw new AtlasError(
        'INVALID_ARGUMENT',
        `${image.file} holds a ${formatBytes(fsBytes)} filesystem, larger than partition ${entry.number} (${formatBytes(entry.size * table.sectorSize)}).`,
      );
    }
    planned.push({ image, entry, header: reader.header, usedBlocks: reader.usedBlocks });
  }
  return planned;
}

/**
 * A missing image-file target is created, sized for the layout (or `imageSize`). An existing file is treated
 * like a card: its size is what there is.
 */
export async function prepareImageTarget(
  target: string,
  table: PartitionTable,
  imageSize: number | undefined,
): Promise<void> {
  let st;
  try {
    st = await fsp.stat(target);
  } catch (error) {
    // only a missing target is created; one the person may not look at is the broker's card (or refused on open)
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') st = null;
    else return;
  }
  if (st) {
    if (!st.isBlockDevice() && !st.isFile()) {
      throw new AtlasError('INVALID_ARGUMENT', `${target} is neither a disk nor an image file.`);
    }
    return;
  }
  const handle = await fsp.open(target, 'wx', 0o644);
  try {
    await handle.truncate(imageSize ?? tableExtentBytes(table));
  } finally {
    await handle.close();
  }
}

export function lastPartition(table: PartitionTable): PartitionEntry {
  const last = [...table.partitions].sort((a, b) => a.start - b.start).at(-1);
  if (!last) throw new AtlasError('MALFORMED_DUMP', `${DUMP_FILE} has no partitions.`);
  return last;
}

/** Throws TARGET_TOO_SMALL when the clone's own layout does not fit a card of `size` bytes at `path`. */
export function checkFits(table: PartitionTable, planned: PlannedImage[], path: string, size: number): void {
  const end = tableExtentBytes(table);
  if (end > size) {
    throw new AtlasError(
      'TARGET_TOO_SMALL',
      `${path} holds ${formatBytes(size)}; this clone needs ${formatBytes(end)}. Use a larger card.`,
      { device: path, needed: end, available: size },
    );
  }
  for (const p of planned) {
    const fsBytes = p.header.totalBlocks * p.header.blockSize;
    if (fsBytes > p.entry.size * table.sectorSize) {
      throw new AtlasError(
        'TARGET_TOO_SMALL',
        `${path} is too small for partition ${p.entry.number} (${p.image.file} needs ${formatBytes(fsBytes)}). Use a larger card.`,
        { device: path, needed: fsBytes },
      );
    }
  }
}
