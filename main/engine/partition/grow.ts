/** Growing the last partition to the end of a bigger target (Restore's "root fills the card"). */
import { AtlasError } from '../errors';
import { gptLastUsable } from './parse';
import type { PartitionEntry, PartitionTable } from './types';

const MBR_MAX_END = 0x100000000; // an MBR cannot describe sectors at or past 2^32

/**
 * Returns a copy of `table` whose last partition (by start) ends at the end of a target of `targetSectors`
 * sectors (GPT: at the last usable LBA, with last-lba moved there). A logical last partition grows its
 * extended partition with it. Throws TARGET_TOO_SMALL when the target ends before the partition does.
 */
export function growLastPartition(table: PartitionTable, targetSectors: number): PartitionTable {
  const copy: PartitionTable = { ...table, partitions: table.partitions.map((p) => ({ ...p })) };
  if (copy.partitions.length === 0) return copy;
  const last = copy.partitions.reduce((a, b) => (b.start > a.start ? b : a));
  let end: number; // exclusive
  if (copy.label === 'gpt') {
    const lastLba = gptLastUsable(targetSectors, copy.tableLength ?? 128);
    copy.lastLba = lastLba;
    end = lastLba + 1;
  } else {
    end = Math.min(targetSectors, MBR_MAX_END);
  }
  if (end < last.start + last.size) {
    throw new AtlasError(
      'TARGET_TOO_SMALL',
      `The target (${targetSectors} sectors) ends before partition ${last.number} (sector ${last.start + last.size - 1}).`,
      { targetSectors, partition: last.number },
    );
  }
  last.size = end - last.start;
  if (copy.label === 'dos' && last.number > 4) {
    const extended: PartitionEntry | undefined = copy.partitions.find(
      (p) => p.number <= 4 && ['5', 'f', '85'].includes(p.type),
    );
    if (extended) extended.size = end - extended.start;
  }
  return copy;
}
