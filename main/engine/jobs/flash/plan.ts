/**
 * The used-blocks-only flash: which blocks of a raw image must reach the card. Everything outside the partitions
 * (the partition table, the boot gap before the first partition, a GPT's backup) and every block a filesystem
 * uses (ext2/3/4 and FAT, by the same maps the clone writes) is written; the free space inside those
 * filesystems is skipped and keeps whatever the card held, which no filesystem reads. A partition whose
 * filesystem cannot be mapped (another type, or not cleanly unmounted: its bitmaps may be wrong) is written
 * whole.
 */
import { openBlockFile } from '../../io/block-file';
import { toAtlasError } from '../../errors';
import { readUsedBlockMap, usedRuns } from '../../fs';
import { readPartitionTable } from '../../partition';

export interface UsedBlocksPlan {
  /** indices of the blockSize-sized blocks of the image to write, ascending */
  blocks: number[];
  /** bytes those blocks hold (the last block may be short) */
  bytes: number;
  imageBytes: number;
}

export async function planUsedBlocks(path: string, blockSize: number): Promise<UsedBlocksPlan> {
  const file = await openBlockFile(path);
  try {
    const imageBytes = file.size;
    const count = Math.ceil(imageBytes / blockSize);
    const marked = new Uint8Array(count);
    const mark = (from: number, to: number): void => {
      const end = Math.min(to, imageBytes);
      for (let b = Math.floor(from / blockSize); b * blockSize < end; b++) marked[b] = 1;
    };
    const table = await readPartitionTable(file).catch((error: unknown) => {
      throw toAtlasError(error, `Cannot write only the used blocks of ${path}: no partition table`);
    });
    const spans = table.partitions
      .map((p) => ({ from: p.start * table.sectorSize, to: (p.start + p.size) * table.sectorSize }))
      .sort((a, b) => a.from - b.from);
    // outside the partitions: written whole
    let covered = 0;
    for (const { from, to } of spans) {
      if (from > covered) mark(covered, from);
      covered = Math.max(covered, to);
    }
    if (covered < imageBytes) mark(covered, imageBytes);
    for (const { from, to } of spans) {
      const map = await readUsedBlockMap(file, from).catch(() => null);
      if (!map) {
        mark(from, to);
        continue;
      }
      for (const run of usedRuns(map)) {
        mark(from + run.first * map.blockSize, from + (run.first + run.count) * map.blockSize);
      }
    }
    const blocks: number[] = [];
    let bytes = 0;
    for (let b = 0; b < count; b++) {
      if (!marked[b]) continue;
      blocks.push(b);
      bytes += Math.min(blockSize, imageBytes - b * blockSize);
    }
    return { blocks, bytes, imageBytes };
  } finally {
    await file.close();
  }
}
