/**
 * The deployment record: one JSON line per card a clone was restored onto, in the build folder beside the clones
 * (`deployments.jsonl`), appended by whoever ran the restore (the app or the CLI, as the person: root never
 * writes it) and shown by the Library. It says which card got which clone (by its manifest's hash) under which
 * hostname, and whether it verified.
 */
import { promises as fsp } from 'node:fs';
import { basename, join } from 'node:path';
import type { AtlasErrorCode, DeploymentRecord, RestoreIntent } from '../../contract';

export const DEPLOYMENTS_FILE = 'deployments.jsonl';

/** What a record is made of: a restore's result as the engine or the app has it (only these fields are read). */
export interface DeploymentSource {
  folder: string;
  intent: RestoreIntent;
  cloneTag: string | null;
  manifestSha256: string | null;
  targets: ReadonlyArray<{
    device: string;
    ok: boolean;
    verified: boolean;
    hostname: string | null;
    error?: { code: AtlasErrorCode } | undefined;
  }>;
}

/** One record per card of `result`, the card described by `cards` (matched by device; unknown: its path only). */
export function deploymentRecords(
  result: DeploymentSource,
  cards: ReadonlyArray<DeploymentRecord['card']>,
  when: Date = new Date(),
): DeploymentRecord[] {
  return result.targets.map((t) => ({
    time: when.toISOString(),
    clone: basename(result.folder),
    cloneTag: result.cloneTag,
    manifestSha256: result.manifestSha256,
    intent: result.intent,
    card: cards.find((c) => c.device === t.device) ?? {
      device: t.device,
      model: '',
      serial: null,
      size: null,
    },
    hostname: t.hostname,
    verified: t.verified,
    ok: t.ok,
    error: t.error?.code ?? null,
  }));
}

/** Appends the records in one O_APPEND write, so two restores ending together do not interleave their lines. */
export async function appendDeployments(buildFolder: string, records: DeploymentRecord[]): Promise<void> {
  if (records.length === 0) return;
  await fsp.mkdir(buildFolder, { recursive: true });
  await fsp.appendFile(
    join(buildFolder, DEPLOYMENTS_FILE),
    records.map((r) => `${JSON.stringify(r)}\n`).join(''),
  );
}

/** Every record, newest first; no file yet is none, and a torn or invalid line is skipped. */
export async function readDeployments(buildFolder: string): Promise<DeploymentRecord[]> {
  let text: string;
  try {
    text = await fsp.readFile(join(buildFolder, DEPLOYMENTS_FILE), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const records: DeploymentRecord[] = [];
  for (const line of text.split('\n').reverse()) {
    const record = parseRecord(line);
    if (record) records.push(record);
  }
  return records;
}

function parseRecord(line: string): DeploymentRecord | null {
  if (line.trim() === '') return null;
  try {
    const o = JSON.parse(line) as Partial<DeploymentRecord> | null;
    const card = o?.card as Partial<DeploymentRecord['card']> | undefined;
    const ok =
      typeof o === 'object' &&
      o !== null &&
      typeof o.time === 'string' &&
      typeof o.clone === 'string' &&
      (o.intent === 'exact' || o.intent === 'deploy') &&
      typeof card === 'object' &&
      card !== null &&
      typeof card.device === 'string' &&
      typeof o.ok === 'boolean' &&
      typeof o.verified === 'boolean';
    return ok ? (o as DeploymentRecord) : null;
  } catch {
    return null;
  }
}
