/** What the Restore page shows of a chosen clone folder before anything is written: the card size it needs. */
import { promises as fsp } from 'node:fs';
import { basename } from 'node:path';
import { AtlasError, toAtlasError } from '../engine/errors';
import { cloneNeededBytes } from '../engine/library/clone-needs';
import { readCloneManifest } from '../engine/library/clone-folder';
import { CLONE_FOLDER_PATTERN } from '../shared/names';
import type { CloneInfo } from '../contract';

export async function inspectClone(folder: string): Promise<CloneInfo> {
  const stat = await fsp.stat(folder).catch((error: unknown) => {
    throw toAtlasError(error, 'The clone folder');
  });
  if (!stat.isDirectory()) {
    throw new AtlasError(
      'INVALID_ARGUMENT',
      `${basename(folder)} is a file, not a clone folder. Choose a golden-clone-… folder.`,
    );
  }
  const neededBytes = await cloneNeededBytes(folder);
  const manifest = await readCloneManifest(folder);
  const name = basename(folder);
  return {
    folder,
    name,
    tag: manifest?.tag ?? CLONE_FOLDER_PATTERN.exec(name)?.[1] ?? null,
    neededBytes,
    // a manifest that lists no source (hand-made or damaged) still says what the card needs, from the dump
    sourceBytes: manifest?.source?.size ?? null,
    hasManifest: manifest !== null,
  };
}
