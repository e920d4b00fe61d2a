/**
 * What the app's jobs put in the job log (its format and rules are the engine's, main/engine/library/job-log.ts,
 * which the CLI shares): each kind's record, made on the app side from its request and value (the root helper
 * never writes the log).
 */
import { recordedImageSha256, type JobRecord } from '../engine/library/job-log';
import type { Drive, JobValues } from '../contract';
import type { DeviceJobKind, DeviceJobRequests, FileJobKind, FileJobRequests } from './handlers/types';

/**
 * What each kind of job logs, from its request and (when it succeeded) its value; null: not logged (checking a
 * card puts back every byte it wrote, so it leaves nothing on the card to account for).
 */
const RECORDS: {
  [K in DeviceJobKind]: (request: DeviceJobRequests[K], value: JobValues[K] | null) => JobRecord | null;
} = {
  flash: (r, value) => ({
    job: 'flash',
    source: r.image.path,
    cards: r.targets.map(card),
    ...(value ? { written: value.targets } : {}),
  }),
  clone: (r, value) => ({
    job: 'clone',
    source: r.source.device,
    cards: [card(r.source)],
    ...(value ? { output: value.folder } : {}),
  }),
  restore: (r, value) => ({
    job: 'restore',
    source: r.folder,
    cards: r.targets.map(card),
    ...(value ? { written: value.targets } : {}),
  }),
  'check-card': () => null,
};

export function jobRecord<K extends DeviceJobKind>(
  kind: K,
  request: DeviceJobRequests[K],
  value: JobValues[K] | null,
): JobRecord | null {
  return RECORDS[kind](request, value);
}

/** The file jobs that make something are logged; those that only read (verify) are not, nor a dry run. */
const FILE_RECORDS: {
  [K in FileJobKind]: (request: FileJobRequests[K], value: JobValues[K] | null) => JobRecord | null;
} = {
  insert: (r, value) => ({
    job: 'insert',
    source: r.base,
    cards: [],
    ...(value ? { output: value.output } : {}),
  }),
  'vault-sync': (r) => (r.dryRun ? null : { job: 'vault-sync', source: r.from, cards: [], output: r.to }),
  verify: () => null,
  'vault-verify': () => null,
};

export function fileJobRecord<K extends FileJobKind>(
  kind: K,
  request: FileJobRequests[K],
  value: JobValues[K] | null,
): JobRecord | null {
  return FILE_RECORDS[kind](request, value);
}

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

function card(d: Drive): { device: string; model: string; serial: string | null; size: number | null } {
  return { device: d.device, model: d.description, serial: d.serial, size: d.size };
}
