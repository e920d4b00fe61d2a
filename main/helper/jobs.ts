/** The device jobs the helper runs. Add a line per job; each wraps an engine job with its safety checks. */
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { AtlasError } from '../engine/errors';
import { flashJob, type FlashOptions } from '../engine/jobs/flash';
import { cloneJob, type CloneResult } from '../engine/jobs/clone';
import { restoreJob } from '../engine/jobs/restore';
import {
  findDrive,
  listDrives,
  localCardAccess,
  revalidateTarget,
  type CardAccess,
  type ConfirmedDrive,
} from '../engine/drives/index';
import { registerHelperJob } from './registry';

registerHelperJob('flash', (options, control) => {
  const o = checkFlashOptions(options);
  const local = localCardAccess({ unmount: true });
  const access: CardAccess = {
    ...local,
    async open(path, how) {
      const t = o.targets.find((x) => x.device === path)!;
      await revalidateTarget(path, t.confirmed!, { sourcePath: o.source });
      return local.open(path, how);
    },
  };
  return flashJob({ ...o, access }, control);
});

registerHelperJob('clone', async (options, control) => {
  const o = checkCloneOptions(options);
  const drive = await confirmSource(o.source, o.confirmed);
  const result = await cloneJob(
    {
      source: o.source,
      outDir: o.outDir,
      tag: o.tag,
      access: localCardAccess({ unmount: true }),
      sourceInfo: { model: drive.description, ...(drive.serial ? { serial: drive.serial } : {}) },
    },
    control,
  );
  // the helper runs as root; the folder belongs to the person who asked for it
  if (o.owner) await chownFolder(result, o.owner);
  return result;
});

registerHelperJob('restore', async (options, control) => {
  const o = checkRestoreOptions(options);
  // the same guard as flash: whole, removable, not the system disk, the very card that was confirmed
  await revalidateTarget(o.target, o.confirmed);
  return restoreJob(
    { folder: o.folder, target: o.target, grow: o.grow, access: localCardAccess({ unmount: true }) },
    control,
  );
});

interface Owner {
  uid: number;
  gid: number;
}

const malformed = (job: string, what: string): never => {
  throw new AtlasError('INVALID_ARGUMENT', `The ${job} request is malformed: ${what}.`);
};

function checkConfirmed(job: string, raw: unknown, device: string): ConfirmedDrive {
  const c = raw as Partial<ConfirmedDrive> | null;
  if (!c || typeof c.size !== 'number' || !(c.size > 0)) malformed(job, `${device} has no confirmed size`);
  if (c!.serial !== undefined && typeof c!.serial !== 'string')
    malformed(job, `${device} has a malformed serial`);
  return { size: c!.size!, ...(c!.serial !== undefined ? { serial: c!.serial } : {}) };
}

function checkString(job: string, value: unknown, what: string): string {
  if (typeof value !== 'string' || !value.startsWith('/')) malformed(job, `${what} is not an absolute path`);
  return value as string;
}

export function checkCloneOptions(raw: unknown): {
  source: string;
  confirmed: ConfirmedDrive;
  outDir: string;
  tag: string;
  owner?: Owner;
} {
  const o = raw as Record<string, unknown> | null;
  if (!o || typeof o !== 'object') malformed('clone', 'no options');
  const source = checkString('clone', o!.source, 'the source');
  if (typeof o!.tag !== 'string') malformed('clone', 'no tag');
  const owner = o!.owner as Partial<Owner> | undefined;
  if (owner !== undefined && !(Number.isInteger(owner.uid) && Number.isInteger(owner.gid))) {
    malformed('clone', 'the owner is not a uid and gid');
  }
  return {
    source,
    confirmed: checkConfirmed('clone', o!.confirmed, source),
    outDir: checkString('clone', o!.outDir, 'the build folder'),
    tag: o!.tag as string,
    ...(owner ? { owner: owner as Owner } : {}),
  };
}

export function checkRestoreOptions(raw: unknown): {
  folder: string;
  target: string;
  confirmed: ConfirmedDrive;
  grow: boolean;
} {
  const o = raw as Record<string, unknown> | null;
  if (!o || typeof o !== 'object') malformed('restore', 'no options');
  const target = checkString('restore', o!.target, 'the target');
  return {
    folder: checkString('restore', o!.folder, 'the clone folder'),
    target,
    confirmed: checkConfirmed('restore', o!.confirmed, target),
    grow: o!.grow !== false,
  };
}

/** A clone source is only read, so it need not be removable; it must still be the card that was confirmed. */
async function confirmSource(device: string, confirmed: ConfirmedDrive) {
  const drive = findDrive(await listDrives(), device);
  if (!drive)
    throw new AtlasError(
      'DRIVE_REMOVED',
      `${device} is not among the drives any more. Was the card removed?`,
    );
  if (drive.size !== confirmed.size || (drive.serial ?? null) !== (confirmed.serial ?? null)) {
    throw new AtlasError(
      'DRIVE_CHANGED',
      `${device} is not the card you confirmed (size or serial differ). Select it again.`,
    );
  }
  return drive;
}

async function chownFolder(result: CloneResult, owner: Owner): Promise<void> {
  await fsp.chown(result.folder, owner.uid, owner.gid);
  for (const file of await fsp.readdir(result.folder)) {
    await fsp.chown(join(result.folder, file), owner.uid, owner.gid);
  }
}

/** The flash options as the helper accepts them: plain data, re-validation forced on, no test hooks. */
export function checkFlashOptions(raw: unknown): Omit<FlashOptions, 'access'> {
  const o = raw as Partial<FlashOptions> | null;
  const bad = (what: string): never => {
    throw new AtlasError('INVALID_ARGUMENT', `The flash request is malformed: ${what}.`);
  };
  if (!o || typeof o !== 'object') bad('no options');
  if (typeof o!.source !== 'string' || o!.source === '') bad('no source');
  if (!Array.isArray(o!.targets) || o!.targets.length === 0) bad('no targets');
  const targets = o!.targets!.map((t) => {
    if (!t || typeof t.device !== 'string') bad('a target has no device');
    const c = t.confirmed;
    if (!c || typeof c.size !== 'number' || !(c.size > 0)) bad(`${t.device} has no confirmed size`);
    if (c!.serial !== undefined && typeof c!.serial !== 'string') bad(`${t.device} has a malformed serial`);
    return {
      device: t.device,
      confirmed: { size: c!.size, ...(c!.serial !== undefined ? { serial: c!.serial } : {}) },
    };
  });
  return {
    source: o!.source!,
    targets,
    verify: o!.verify !== false,
    eject: o!.eject !== false,
    useTools: o!.useTools !== false,
    usedBlocksOnly: o!.usedBlocksOnly === true,
  };
}
