/** The device jobs the helper runs. Add one registration per job: its options' shape, its cards, the job. */
import { AtlasError } from '../engine/errors';
import { flashJob, type FlashOptions } from '../engine/jobs/flash';
import { cloneJob } from '../engine/jobs/clone';
import { MAX_RESTORE_TARGETS, restoreJob, type RestoreIntent } from '../engine/jobs/restore';
import { checkCard } from '../engine/jobs/check-card';
import type { ConfirmedDrive } from '../engine/drives/index';
import { registerHelperJob } from './registry';

registerHelperJob('flash', {
  check: checkFlashOptions,
  cards: (o) =>
    o.targets.map((t) => ({
      device: t.device,
      confirmed: t.confirmed!,
      role: 'target' as const,
      direct: o.directIO !== false,
      unmount: true,
      sourcePath: o.source,
    })),
  run: (o, access, control) => flashJob({ ...o, access }, control),
});

registerHelperJob('clone', {
  check: checkCloneOptions,
  cards: (o) => [
    { device: o.source, confirmed: o.confirmed, role: 'source', direct: false, unmount: o.unmount },
  ],
  run: (o, access, control, cards) => {
    const card = cards[0]!;
    return cloneJob(
      {
        source: o.source,
        outDir: o.outDir,
        tag: o.tag,
        access,
        sourceInfo: { model: card.description, ...(card.serial ? { serial: card.serial } : {}) },
        ...(o.level !== undefined ? { level: o.level } : {}),
      },
      control,
    );
  },
});

registerHelperJob('restore', {
  check: checkRestoreOptions,
  cards: (o) =>
    o.targets.map((t) => ({
      device: t.device,
      confirmed: t.confirmed,
      role: 'target' as const,
      direct: true,
      unmount: true,
    })),
  run: (o, access, control) => restoreJob({ ...o, access }, control),
});

registerHelperJob('check-card', {
  check: checkCheckCardOptions,
  // written (a few KiB of markers, put back afterwards), so it is a target: the target rules apply in full
  cards: (o) => [{ device: o.device, confirmed: o.confirmed, role: 'target', direct: true, unmount: true }],
  run: async (o, access, control) => {
    const dev = await access.open(o.device, { write: true, direct: true });
    try {
      return await checkCard(dev, control);
    } finally {
      await dev.handle.close().catch(() => undefined);
    }
  },
});

const malformed = (job: string, what: string): never => {
  throw new AtlasError('INVALID_ARGUMENT', `The ${job} request is malformed: ${what}.`);
};

function checkConfirmed(job: string, raw: unknown, device: string): ConfirmedDrive {
  const c = raw as Partial<ConfirmedDrive> | null;
  if (!c || typeof c !== 'object' || typeof c.size !== 'number' || !(c.size > 0))
    malformed(job, `${device} has no confirmed size`);
  if (c!.serial !== undefined && typeof c!.serial !== 'string')
    malformed(job, `${device} has a malformed serial`);
  return { size: c!.size!, ...(c!.serial !== undefined ? { serial: c!.serial } : {}) };
}

function checkPath(job: string, value: unknown, what: string): string {
  if (typeof value !== 'string' || !value.startsWith('/') || value.includes('\0'))
    malformed(job, `${what} is not an absolute path`);
  return value as string;
}

function options(job: string, raw: unknown): Record<string, unknown> {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) malformed(job, 'no options');
  return raw as Record<string, unknown>;
}

export interface HelperCloneOptions {
  source: string;
  confirmed: ConfirmedDrive;
  outDir: string;
  tag: string;
  unmount: boolean;
  level?: number;
}

export function checkCloneOptions(raw: unknown): HelperCloneOptions {
  const o = options('clone', raw);
  const source = checkPath('clone', o.source, 'the source');
  if (typeof o.tag !== 'string') malformed('clone', 'no tag');
  if (
    o.level !== undefined &&
    !(Number.isInteger(o.level) && (o.level as number) >= 1 && (o.level as number) <= 9)
  )
    malformed('clone', 'the gzip level is not 1-9');
  return {
    source,
    confirmed: checkConfirmed('clone', o.confirmed, source),
    outDir: checkPath('clone', o.outDir, 'the build folder'),
    tag: o.tag as string,
    unmount: o.unmount !== false,
    ...(o.level !== undefined ? { level: o.level as number } : {}),
  };
}

export interface HelperRestoreOptions {
  folder: string;
  targets: Array<{ device: string; confirmed: ConfirmedDrive; hostname?: string }>;
  intent: RestoreIntent;
  grow: boolean;
}

export function checkRestoreOptions(raw: unknown): HelperRestoreOptions {
  const o = options('restore', raw);
  const folder = checkPath('restore', o.folder, 'the clone folder');
  if (o.intent !== 'exact' && o.intent !== 'deploy')
    malformed('restore', 'the intent is neither exact nor deploy');
  const intent = o.intent as RestoreIntent;
  if (!Array.isArray(o.targets) || o.targets.length === 0) malformed('restore', 'no targets');
  const list = o.targets as unknown[];
  if (list.length > MAX_RESTORE_TARGETS) malformed('restore', `more than ${MAX_RESTORE_TARGETS} targets`);
  const targets = list.map((raw) => {
    const t = raw as { device?: unknown; confirmed?: unknown; hostname?: unknown } | null;
    if (!t || typeof t !== 'object') malformed('restore', 'a target is not an object');
    const device = checkPath('restore', t!.device, 'a target');
    const hostname = t!.hostname;
    if (intent === 'deploy' && typeof hostname !== 'string')
      malformed('restore', `${device} has no hostname`);
    if (intent === 'exact' && hostname !== undefined)
      malformed('restore', `${device} has a hostname on an exact restore`);
    return {
      device,
      confirmed: checkConfirmed('restore', t!.confirmed, device),
      ...(typeof hostname === 'string' ? { hostname } : {}),
    };
  });
  if (new Set(targets.map((t) => t.device)).size !== targets.length)
    malformed('restore', 'a target is listed twice');
  return { folder, targets, intent, grow: o.grow !== false };
}

/** The flash options as the helper accepts them: plain data, every target confirmed, no test hooks. */
export function checkFlashOptions(raw: unknown): Omit<FlashOptions, 'access'> {
  const o = options('flash', raw) as Partial<FlashOptions>;
  if (typeof o.source !== 'string' || o.source === '') malformed('flash', 'no source');
  if (!Array.isArray(o.targets) || o.targets.length === 0) malformed('flash', 'no targets');
  const targets = o.targets!.map((t) => {
    if (!t || typeof t.device !== 'string') malformed('flash', 'a target has no device');
    const device = checkPath('flash', t.device, 'a target');
    return { device, confirmed: checkConfirmed('flash', t.confirmed, device) };
  });
  return {
    source: o.source!,
    targets,
    verify: o.verify !== false,
    eject: o.eject !== false,
    useTools: o.useTools !== false,
    usedBlocksOnly: o.usedBlocksOnly === true,
  };
}

export interface HelperCheckCardOptions {
  device: string;
  confirmed: ConfirmedDrive;
}

export function checkCheckCardOptions(raw: unknown): HelperCheckCardOptions {
  const o = options('check-card', raw);
  const device = checkPath('check-card', o.device, 'the card');
  return { device, confirmed: checkConfirmed('check-card', o.confirmed, device) };
}
