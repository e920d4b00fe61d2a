/**
 * The operator's job log: one JSON line per device job (flash, clone, restore) in the app's config folder,
 * appended by the app as each job ends and read by the app's Library page and `atlas log`. A file the person owns
 * (root never writes it); names, sizes, hashes and error codes only.
 */
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import type { JobLogEntry } from '../../contract';

export const JOB_LOG_FILE = 'job-log.jsonl';
/** The newest entries the app shows. */
export const JOB_LOG_SHOWN = 200;

export function jobLogPath(configDir: string): string {
  return join(configDir, JOB_LOG_FILE);
}

/** Appends one entry as one line (a single O_APPEND write, so two jobs ending together do not interleave). */
export async function appendJobLog(configDir: string, entry: JobLogEntry): Promise<void> {
  await fsp.mkdir(configDir, { recursive: true });
  await fsp.appendFile(jobLogPath(configDir), `${JSON.stringify(entry)}\n`, { mode: 0o600 });
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
