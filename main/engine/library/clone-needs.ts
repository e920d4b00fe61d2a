/**
 * How large a card a clone folder needs, from its partition-table dump alone (no image is opened): the end of
 * its last partition, plus GPT's backup table at the end of the disk. Restore checks the same before writing.
 */
import { promises as fsp } from 'node:fs';
import { basename, join } from 'node:path';
import { AtlasError, toAtlasError } from '../errors';
import { parseSfdiskDump } from '../partition/parse';
import type { PartitionTable } from '../partition/types';
import { DUMP_FILE } from './clone-folder';

/** GPT keeps a copy of its header and 32 sectors of entries in the last sectors of the disk. */
export function gptBackupBytes(table: PartitionTable): number {
  return table.label === 'gpt' ? 33 * table.sectorSize : 0;
}

/** The smallest disk that holds `table`: its furthest partition end, plus GPT's backup. */
export function tableExtentBytes(table: PartitionTable): number {
  const end = Math.max(0, ...table.partitions.map((p) => p.start + p.size));
  return end * table.sectorSize + gptBackupBytes(table);
}

/** Reads `folder`'s dump: NOT_FOUND when there is none (not a clone folder), MALFORMED_DUMP when damaged. */
export async function cloneNeededBytes(folder: string): Promise<number> {
  const text = await fsp.readFile(join(folder, DUMP_FILE), 'utf8').catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw toAtlasError(error, folder);
    throw new AtlasError(
      'NOT_FOUND',
      `${basename(folder)} is not a clone folder: it has no ${DUMP_FILE}. Choose a golden-clone-… folder.`,
      { folder },
    );
  });
  return tableExtentBytes(parseSfdiskDump(text));
}
