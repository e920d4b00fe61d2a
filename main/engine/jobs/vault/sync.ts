/**
 * vaultSyncJob: copies the build folder's artifacts that the vault (default /Volumes/NVME_VAULT/golden-atlas-img/)
 * lacks, each one whole or not at all (copy.ts), after a plan that refuses any conflict before the first byte
 * (plan.ts). An artifact already in the vault is never modified; unfinished copies (`*.partial`, from a crash, an
 * unplugged disk or a cancel) are replaced by the next sync. One sync at a time per vault (a lock file).
 */
import { promises as fsp } from 'node:fs';
import { join, resolve } from 'node:path';
import { AtlasError, throwIfCancelled, toAtlasError } from '../../errors';
import { freeSpace } from '../../io/free-space';
import { takeLockFile } from '../../io/lock';
import { ProgressMeter, type JobControl } from '../../progress';
import { listArtifacts } from '../../library/catalog';
import { copyArtifact, itemOf, type VaultSyncItem } from './copy';
import { planSync, selectArtifacts } from './plan';
import { checkRoom, checkVault, type VolumeOptions } from './volume';

/** Hidden (hidden-files.ts), so never taken for an artifact nor compared. */
export const LOCK_FILE = '.atlas-vault-sync.lock';

export interface VaultSyncOptions extends VolumeOptions {
  /** the build folder */
  from: string;
  /** the vault folder; never created: a missing vault means its disk is not plugged in */
  to: string;
  /** only these artifacts (image file names or clone folder names); default all */
  items?: string[];
  /** plan only: report what would be copied, write nothing */
  dryRun?: boolean;
  /** compare artifacts present on both sides by sha256 even when sizes and times match */
  checksum?: boolean;
}

export interface VaultSyncResult {
  from: string;
  to: string;
  dryRun: boolean;
  items: VaultSyncItem[];
  copied: number;
  identical: number;
  /** bytes copied (or that would be) */
  bytes: number;
  /** free bytes on the vault before copying */
  freeBytes: number;
}

/** Copies the build folder's artifacts missing from the vault, verifies each copy, never overwrites. */
export async function vaultSyncJob(
  options: VaultSyncOptions,
  control: JobControl = {},
): Promise<VaultSyncResult> {
  const { signal } = control;
  throwIfCancelled(signal);
  const from = resolve(options.from);
  const to = resolve(options.to);
  await checkVault(to, options);
  const fromStat = await fsp.stat(from).catch((error: unknown) => {
    throw (error as NodeJS.ErrnoException).code === 'ENOENT'
      ? new AtlasError('NOT_FOUND', `The build folder ${from} does not exist.`, { folder: from })
      : toAtlasError(error, `Cannot read the build folder ${from}`);
  });
  if (!fromStat.isDirectory()) {
    throw new AtlasError('INVALID_ARGUMENT', `The build folder ${from} is not a folder.`);
  }
  const toStat = await fsp.stat(to);
  if ((await fsp.realpath(from)) === (await fsp.realpath(to))) {
    throw new AtlasError('SOURCE_IS_TARGET', `The build folder and the vault are the same folder (${to}).`);
  }

  const artifacts = selectArtifacts(await listArtifacts(from), options.items);
  const plan = await planSync(artifacts, to, options.checksum === true, signal);
  const items = plan.identical.map((artifact) => itemOf(artifact, 'identical'));
  const needed = plan.toCopy.reduce((sum, a) => sum + a.files.reduce((s, f) => s + f.size, 0), 0);
  const freeBytes = await freeSpace(to);
  const sameDevice = fromStat.dev === toStat.dev;
  if (options.dryRun) {
    items.push(...plan.toCopy.map((artifact) => itemOf(artifact, 'would-copy')));
    return summary(from, to, true, items, freeBytes);
  }
  // a filesystem that reflinks needs almost no space for the copy
  if (!sameDevice) {
    checkRoom(to, { freeBytes, neededBytes: needed, artifacts: plan.toCopy.length, from });
  }

  const meter = new ProgressMeter('syncing', 2 * needed, control.onProgress);
  const release =
    plan.toCopy.length > 0
      ? await takeLockFile(
          join(to, LOCK_FILE),
          (pid) => `Another vault sync (process ${pid}) is copying into ${to}; wait for it to finish.`,
        )
      : async () => undefined;
  try {
    for (const artifact of plan.toCopy) {
      throwIfCancelled(signal);
      items.push(await copyArtifact(artifact, to, sameDevice, meter, signal));
    }
  } finally {
    await release();
  }
  meter.finish();
  return summary(from, to, false, items, freeBytes);
}

export function summary(
  from: string,
  to: string,
  dryRun: boolean,
  items: VaultSyncItem[],
  freeBytes: number,
): VaultSyncResult {
  const moving = items.filter((i) => i.action !== 'identical');
  return {
    from,
    to,
    dryRun,
    items: items.sort((a, b) => a.name.localeCompare(b.name)),
    copied: moving.length,
    identical: items.length - moving.length,
    bytes: moving.reduce((sum, i) => sum + i.bytes, 0),
    freeBytes,
  };
}
