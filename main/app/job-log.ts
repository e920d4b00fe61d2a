/**
 * The job log's lines, made on the app side as each device job ends (the root helper never writes it): what
 * was written or read, from what, onto which cards, and how it ended.
 */
import { promises as fsp } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { createHash } from 'node:crypto';
import type { AtlasError } from '../engine/errors';
import { goldenChecksumName } from '../engine/library/catalog';
import { MANIFEST_FILE } from '../engine/library/clone-folder';
import type { Drive, JobLogCard, JobLogEntry, JobValues } from '../contract';
import type { DeviceJobKind, DeviceJobRequests } from './handlers/types';

/** How a device job ended, as the log needs it. */
export type DeviceJobEnd<K extends DeviceJobKind> =
  { result: 'succeeded'; value: JobValues[K] } | { result: 'failed' | 'cancelled'; error: AtlasError };

type JobFacts = Omit<JobLogEntry, 'time' | 'result' | 'error'>;

/**
 * What each kind of job logs, from its request and (when it succeeded) its value; null: not logged (checking a
 * card puts back every byte it wrote, so it leaves nothing on the card to account for).
 */
const FACTS: {
  [K in DeviceJobKind]: (
    request: DeviceJobRequests[K],
    value: JobValues[K] | null,
  ) => Promise<JobFacts | null>;
} = {
  flash: async (r, value) => ({
    job: 'flash',
    source: r.image.path,
    sha256: value ? value.sha256 : await recordedImageSha256(r.image.path),
    cards: r.targets.map((d) => ({
      ...card(d),
      ok: value ? (value.targets.find((t) => t.device === d.device)?.ok ?? false) : null,
    })),
  }),
  clone: async (r, value) => ({
    job: 'clone',
    source: r.source.device,
    sha256: value ? await cloneManifestSha256(value.folder) : null,
    cards: [card(r.source)],
    ...(value ? { output: value.folder } : {}),
  }),
  restore: async (r, value) => ({
    job: 'restore',
    source: r.folder,
    sha256: await cloneManifestSha256(r.folder),
    cards: r.targets.map((d) => ({
      ...card(d),
      ok: value ? (value.targets.find((t) => t.device === d.device)?.ok ?? false) : null,
    })),
  }),
  'check-card': async () => null,
};

/** What the app adds to a device job's value before it goes out: the flash's image checksum, as the log reads it. */
const COMPLETE: {
  [K in DeviceJobKind]: (request: DeviceJobRequests[K], value: JobValues[K]) => Promise<JobValues[K]>;
} = {
  flash: async (r, value) => ({ ...value, sha256: await recordedImageSha256(r.image.path) }),
  clone: async (_r, value) => value,
  restore: async (_r, value) => value,
  'check-card': async (_r, value) => value,
};

export function completeJobValue<K extends DeviceJobKind>(
  kind: K,
  request: DeviceJobRequests[K],
  value: JobValues[K],
): Promise<JobValues[K]> {
  return COMPLETE[kind](request, value);
}

/**
 * The log line of a device job that ended (null: a kind not logged). Reads a checksum or manifest file; never
 * fails (null hashes).
 */
export async function jobLogEntry<K extends DeviceJobKind>(
  kind: K,
  request: DeviceJobRequests[K],
  end: DeviceJobEnd<K>,
  now: Date = new Date(),
): Promise<JobLogEntry | null> {
  const facts = await FACTS[kind](request, end.result === 'succeeded' ? end.value : null);
  if (!facts) return null;
  return {
    time: now.toISOString(),
    ...facts,
    result: end.result,
    error: end.result === 'succeeded' ? null : end.error.code,
  };
}

function card(d: Drive): JobLogCard {
  return { device: d.device, model: d.description, serial: d.serial, size: d.size };
}

/** The image's sha256 from its `sha256sum` checksum file beside it (vault sync writes one), or null. */
async function recordedImageSha256(image: string): Promise<string | null> {
  const name = basename(image);
  const text = await fsp.readFile(join(dirname(image), goldenChecksumName(name)), 'utf8').catch(() => '');
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]{64})\s+\*?(.+)$/.exec(line.trim());
    if (m && m[2] === name) return m[1]!;
  }
  return null;
}

/** The sha256 of a clone folder's manifest file (which lists every file's sha256), or null when it has none. */
export function cloneManifestSha256(folder: string): Promise<string | null> {
  return fileSha256(join(folder, MANIFEST_FILE));
}

/** A small file's sha256 (a manifest), or null when it cannot be read. */
async function fileSha256(path: string): Promise<string | null> {
  const data = await fsp.readFile(path).catch(() => null);
  return data ? createHash('sha256').update(data).digest('hex') : null;
}
