/**
 * The real dependencies of createHandlers: the engine's drive list and file-only jobs in this process, and
 * the elevated helper for device I/O. Plain Node, so the wiring type-checks without Electron; main/index.ts
 * adds the window-bound parts (events, dialogs, dock progress).
 */
import { promises as fsp } from 'node:fs';
import { listDrives, watchDrives } from '../engine/drives/index';
import { insertJob, prehashBase } from '../engine/jobs/insert';
import { verifyCloneFolder } from '../engine/jobs/verify';
import { vaultSyncJob, vaultVerifyJob } from '../engine/jobs/vault';
import type { FlashResult as EngineFlashResult } from '../engine/jobs/flash';
import type { CloneResult as EngineCloneResult } from '../engine/jobs/clone';
import type { RestoreResult as EngineRestoreResult } from '../engine/jobs/restore';
import type { CheckCardResult as EngineCheckCardResult } from '../engine/jobs/check-card';
import { runInHelper } from '../helper/launch';
import { AtlasError } from '../engine/errors';
import type { DeviceJobRequests, DeviceJobRunner, FileJobRunners, HandlerDeps } from './handlers';
import { deviceJobRunner, notAvailable } from './handlers';
import {
  toCheckCardResult,
  toCloneResult,
  toDrive,
  toFlashResult,
  toInsertResult,
  toRestoreResult,
  toVerifyResult,
  toVaultSyncResult,
  toVaultVerifyResult,
} from './adapters';

export type WindowBoundDeps = Pick<
  HandlerDeps,
  'configDir' | 'homeDir' | 'emit' | 'dialogs' | 'showItemInFolder' | 'onActivity' | 'version' | 'platform'
>;

/** Device jobs go to the helper (one elevated process per job). Only the jobs the helper registers run. */
export const helperDeviceJobs: DeviceJobRunner = deviceJobRunner({
  flash: async (r, control) => {
    const targets = r.confirmed.map((c) => ({ device: c.device, confirmed: confirmedOf(c) }));
    const result = await runInHelper<EngineFlashResult>(
      'flash',
      { source: r.image.path, targets, verify: r.verify, usedBlocksOnly: r.usedBlocksOnly, eject: true },
      control,
      { name: 'Atlas Imager' },
    );
    return toFlashResult(result);
  },
  clone: async (r, control) => {
    const result = await runInHelper<EngineCloneResult>(
      'clone',
      {
        source: r.source.device,
        confirmed: confirmedOf(r.confirmed),
        outDir: r.outDir,
        tag: r.tag,
        allowUnbooted: r.allowUnbooted,
      },
      control,
      { name: 'Atlas Imager' },
    );
    return toCloneResult(result);
  },
  restore: async (r, control) => {
    const targets = r.confirmed.map((c, i) => ({
      device: c.device,
      confirmed: confirmedOf(c),
      ...(r.hostnames ? { hostname: r.hostnames[i]! } : {}),
    }));
    const result = await runInHelper<EngineRestoreResult>(
      'restore',
      { folder: r.folder, targets, intent: r.intent, grow: r.grow },
      control,
      { name: 'Atlas Imager' },
    );
    return toRestoreResult(result);
  },
  'check-card': async (r, control) => {
    const result = await runInHelper<EngineCheckCardResult>(
      'check-card',
      { device: r.target.device, confirmed: confirmedOf(r.confirmed) },
      control,
      { name: 'Atlas Imager' },
    );
    return toCheckCardResult(result);
  },
});

/** The card as the person confirmed it, which the helper checks again before touching it. */
function confirmedOf(c: DeviceJobRequests['clone']['confirmed']): { size: number; serial?: string } {
  if (c.size === null)
    throw new AtlasError('DRIVE_REMOVED', `${c.device} reports no size: is a card in the reader?`);
  return { size: c.size, ...(c.serial ? { serial: c.serial } : {}) };
}

export const inProcessFileJobs: FileJobRunners = {
  insert: async (r, control) =>
    toInsertResult(
      await insertJob(
        {
          base: r.base,
          firstboot: r.firstboot,
          service: r.service,
          secrets: r.secrets,
          version: r.version,
          patch: r.patch,
          tag: r.tag,
          outDir: r.outDir,
          force: r.force,
        },
        control,
      ),
    ),
  verify: async (r, control) => {
    if ((await fsp.stat(r.path)).isDirectory()) {
      return toVerifyResult(await verifyCloneFolder(r.path, control));
    }
    throw notAvailable('Verifying a golden image');
  },
  'vault-sync': async (r, control) =>
    toVaultSyncResult(
      await vaultSyncJob(
        {
          from: r.from,
          to: r.to,
          dryRun: r.dryRun,
          checksum: r.checksum,
          ...(r.items ? { items: r.items } : {}),
        },
        control,
      ),
    ),
  'vault-verify': async (r, control) =>
    toVaultVerifyResult(await vaultVerifyJob({ folder: r.folder }, control)),
};

export function productionDeps(bound: WindowBoundDeps): HandlerDeps {
  return {
    ...bound,
    listDrives: async () => (await listDrives()).map(toDrive),
    watchDrives: (onChange) => {
      const watcher = watchDrives((drives) => onChange(drives.map(toDrive)));
      return () => watcher.stop();
    },
    runDeviceJob: helperDeviceJobs,
    fileJobs: inProcessFileJobs,
    prehashBase,
  };
}
