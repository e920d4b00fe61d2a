/**
 * The operator's job log: one JSON line per job that wrote or read a card (flash, clone, restore) or made an
 * artifact (insert, vault sync) in the app's config folder, whoever ran it: the app appends a line as each of its
 * jobs ends, the CLI as each of its own does.
 * Read by the Library page and `atlas log`. Names, sizes, hashes and error codes only; still the person's own
 * file (0600, and under sudo handed to the owner of the folder it is in: root never leaves a file the person
 * cannot write).
 */
import { promises as fsp } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { createHash } from 'node:crypto';
import type { JobLogCard, JobLogEntry } from '../../contract';
import { toAtlasError, type AtlasErrorCode } from '../errors';
import { goldenChecksumName, sidecarCandidates } from './catalog';
import { MANIFEST_FILE } from './clone-folder';

export const JOB_LOG_FILE = 'job-log.jsonl';
/** The newest entries the app shows. */
export const JOB_LOG_SHOWN = 200;

export function jobLogPath(configDir: string): string {
  return join(configDir, JOB_LOG_FILE);
}

/** A card as the drive list described it when the job started (an image file: its path, model "image file"). */
export type LoggedCard = Omit<JobLogCard, 'ok'>;

/** What a job's line is made of, as its caller knows it when the job ends. */
export interface JobRecord {
  job: JobLogEntry['job'];
  /** the image (flash), the card (clone), the clone folder (restore), the base image (insert), the build folder */
  source: string;
  /** the cards written (flash, restore) or read (clone); none for insert and vault sync */
  cards: LoggedCard[];
  /** flash and restore, when the job answered card by card: which were written (and verified) */
  written?: ReadonlyArray<{ device: string; ok: boolean }>;
  /** what it made, when it did: the clone folder, the golden image, the vault */
  output?: string;
}

/** How a job ended, as its line says it. */
export type JobEnd = { result: 'succeeded' } | { result: 'failed' | 'cancelled'; error: AtlasErrorCode };

/** A job that threw: cancelled when its signal fired or it says so, otherwise failed with its code. */
export function endOf(error: unknown, signal?: AbortSignal): JobEnd {
  const code = toAtlasError(error).code;
  return { result: signal?.aborted || code === 'CANCELLED' ? 'cancelled' : 'failed', error: code };
}

/** The line of a job that ended. Reads a checksum or manifest file; never fails (null hashes). */
export async function jobLogEntry(
  record: JobRecord,
  end: JobEnd,
  now: Date = new Date(),
): Promise<JobLogEntry> {
  const written = end.result === 'succeeded' ? record.written : undefined;
  return {
    time: now.toISOString(),
    job: record.job,
    source: record.source,
    sha256: await recordSha256(record, end),
    // a card of a written job says whether it was written; null when the job ended before saying so
    cards:
      record.job === 'flash' || record.job === 'restore'
        ? record.cards.map((c) => ({
            ...c,
            ok: written ? (written.find((w) => w.device === c.device)?.ok ?? false) : null,
          }))
        : record.cards,
    ...(record.output && end.result === 'succeeded' ? { output: record.output } : {}),
    result: end.result,
    error: end.result === 'succeeded' ? null : end.error,
  };
}

/**
 * flash: the image's sha256 as its checksum file records it; clone and restore: the sha256 of the clone folder's
 * manifest (which lists every file's sha256), for a clone once it made one; insert: the sha256 of the golden
 * image's manifest, once made; a vault sync: none (each artifact has its own).
 */
function recordSha256(record: JobRecord, end: JobEnd): Promise<string | null> {
  const made = end.result === 'succeeded' ? record.output : undefined;
  switch (record.job) {
    case 'flash':
      return recordedImageSha256(record.source);
    case 'clone':
      return made ? cloneManifestSha256(made) : Promise.resolve(null);
    case 'restore':
      return cloneManifestSha256(record.source);
    case 'insert':
      return made ? goldenManifestSha256(made) : Promise.resolve(null);
    case 'vault-sync':
      return Promise.resolve(null);
  }
}

/**
 * Runs a job and appends its line as it ends, before its outcome goes out (so what is shown next includes it).
 * `record` describes the job from its value (null: it failed or was cancelled); a null record is not logged. A log
 * that cannot be written never fails the job it records.
 */
export async function withJobLog<T>(
  configDir: string,
  record: (value: T | null) => JobRecord | null | Promise<JobRecord | null>,
  run: () => Promise<T>,
  signal?: AbortSignal,
): Promise<T> {
  const log = async (value: T | null, end: JobEnd): Promise<void> => {
    try {
      const r = await record(value);
      if (r) await appendJobLog(configDir, await jobLogEntry(r, end));
    } catch {
      // a log that cannot be written never fails the job it records
    }
  };
  let value: T;
  try {
    value = await run();
  } catch (error) {
    await log(null, endOf(error, signal));
    throw error;
  }
  await (signal?.aborted
    ? log(null, { result: 'cancelled', error: 'CANCELLED' })
    : log(value, { result: 'succeeded' }));
  return value;
}

/**
 * Appends one entry as one line (a single O_APPEND write, so two jobs ending together do not interleave). Run as
 * root (the CLI under sudo), what it creates takes the owner of the folder it is created in.
 */
export async function appendJobLog(configDir: string, entry: JobLogEntry): Promise<void> {
  const path = jobLogPath(configDir);
  const root = process.getuid?.() === 0;
  const created = await fsp.mkdir(configDir, { recursive: true });
  const isNew = root && !(await fsp.stat(path).catch(() => null));
  await fsp.appendFile(path, `${JSON.stringify(entry)}\n`, { mode: 0o600 });
  if (!root) return;
  const made = created ? foldersFrom(created, configDir) : [];
  if (isNew) made.push(path);
  if (made.length === 0) return;
  const owner = await fsp.stat(dirname(made[0]!));
  for (const p of made) await fsp.lchown(p, owner.uid, owner.gid);
}

/** `first` (the first folder mkdir created) and each folder under it down to `last`. */
function foldersFrom(first: string, last: string): string[] {
  const folders = [last];
  while (folders[0] !== first && dirname(folders[0]!) !== folders[0]) folders.unshift(dirname(folders[0]!));
  return folders;
}

/** The last `limit` entries, newest first; no log yet is an empty one, and a line that does not parse is skipped. */
export async function readJobLog(configDir: string, limit = JOB_LOG_SHOWN): Promise<JobLogEntry[]> {
  let text: string;
  try {
    text = await fsp.readFile(jobLogPath(configDir), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const entries: JobLogEntry[] = [];
  for (const line of text.split('\n').reverse()) {
    if (entries.length >= limit) break;
    const entry = parseEntry(line);
    if (entry) entries.push(entry);
  }
  return entries;
}

function parseEntry(line: string): JobLogEntry | null {
  if (line.trim() === '') return null;
  try {
    const o = JSON.parse(line) as Partial<JobLogEntry> | null;
    const ok =
      typeof o === 'object' &&
      o !== null &&
      typeof o.time === 'string' &&
      typeof o.job === 'string' &&
      typeof o.source === 'string' &&
      typeof o.result === 'string' &&
      Array.isArray(o.cards);
    return ok ? (o as JobLogEntry) : null;
  } catch {
    return null;
  }
}

/** The image's sha256 from its `sha256sum` checksum file beside it (vault sync writes one), or null. */
export async function recordedImageSha256(image: string): Promise<string | null> {
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

/** The sha256 of the sidecar manifest Insert writes beside a golden image, or null when it has none. */
export function goldenManifestSha256(image: string): Promise<string | null> {
  return fileSha256(join(dirname(image), sidecarCandidates(basename(image))[0]!));
}

/** A small file's sha256 (a manifest), or null when it cannot be read. */
async function fileSha256(path: string): Promise<string | null> {
  const data = await fsp.readFile(path).catch(() => null);
  return data ? createHash('sha256').update(data).digest('hex') : null;
}
