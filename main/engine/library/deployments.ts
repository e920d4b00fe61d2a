/**
 * The deployment record: one JSON line per card a restore wrote, in the build folder (deployments.jsonl): when,
 * from which clone (its tag and the sha256 of its manifest), onto which card, the hostname given, and whether it
 * verified. Appended by the person's process (never root) in the build folder of the app's settings, by the app and
 * the CLI alike (a deploy whose every card failed too: each as failed), read by the Library and `atlas library`.
 */
import { promises as fsp } from 'node:fs';
import { basename, join } from 'node:path';
import { AtlasError, isAtlasError } from '../errors';
import { cloneFacts } from './clone-folder';
import { everyCardResults } from '../jobs/card-board';
import type { DeploymentRecord } from '../../contract';
import { givenHostnames, type GivenHostname } from '../../shared/hostnames';
import type { RestoreResult, RestoreTargetResult } from '../jobs/restore';

export type { DeploymentRecord };

export const DEPLOYMENTS_FILE = 'deployments.jsonl';

/** A card as the drive list described it when the restore started. */
export interface DeployedCard {
  device: string;
  model: string;
  serial: string | null;
  size: number | null;
}

/**
 * What a record is made of: the engine's RestoreResult, or the app's (its contract result plus the clone's tag
 * and manifest hash); only these fields are read.
 */
export type DeploymentSource = Pick<RestoreResult, 'folder' | 'intent' | 'cloneTag' | 'manifestSha256'> & {
  targets: ReadonlyArray<
    Pick<RestoreTargetResult, 'device' | 'hostname' | 'verified' | 'ok'> & {
      error?: { code: DeploymentRecord['error'] & string; message?: string } | undefined;
    }
  >;
};

/** One record per card of a restore that ran (the cards as the drive list described them; `when` its end). */
export function deploymentRecords(
  result: DeploymentSource,
  cards: DeployedCard[],
  when: Date,
): DeploymentRecord[] {
  return result.targets.map((t) => {
    const card = cards.find((c) => c.device === t.device) ?? {
      device: t.device,
      model: '',
      serial: null,
      size: null,
    };
    return {
      time: when.toISOString(),
      clone: basename(result.folder),
      cloneTag: result.cloneTag,
      manifestSha256: result.manifestSha256,
      intent: result.intent,
      card: { device: card.device, model: card.model, serial: card.serial, size: card.size },
      hostname: t.hostname,
      verified: t.verified,
      ok: t.ok,
      error: t.error?.code ?? null,
      reason: t.error?.message ?? null,
    };
  });
}

/**
 * A restore that failed as a whole, in the shape the records are made from: each card's own result when the error
 * carries them (every card of several failed), else the one card the error names; null when it ended before any
 * card had its turn (a refused folder, a cancel), which the job log keeps.
 */
export async function failedRestoreSource(
  error: unknown,
  run: {
    folder: string;
    intent: DeploymentRecord['intent'];
    targets: ReadonlyArray<{ device: string; hostname: string | null }>;
  },
): Promise<DeploymentSource | null> {
  if (!isAtlasError(error) || error.code === 'CANCELLED') return null;
  const results = everyCardResults<RestoreTargetResult>(error);
  let targets: DeploymentSource['targets'];
  if (results) {
    targets = results.filter((t) => run.targets.some((r) => r.device === t.device));
  } else {
    const card = run.targets.find((t) => t.device === error.details.device);
    if (!card) return null;
    targets = [{ device: card.device, hostname: card.hostname, verified: false, ok: false, error }];
  }
  if (targets.length === 0) return null;
  return { folder: run.folder, intent: run.intent, ...(await cloneFacts(run.folder)), targets };
}

/** Appends the records as lines, in one O_APPEND write (two restores ending together do not interleave). */
export async function appendDeployments(buildFolder: string, records: DeploymentRecord[]): Promise<void> {
  if (records.length === 0) return;
  await fsp.mkdir(buildFolder, { recursive: true });
  const text = records.map((r) => `${JSON.stringify(r)}\n`).join('');
  await fsp.appendFile(join(buildFolder, DEPLOYMENTS_FILE), text, { mode: 0o644 });
}

/** Every record of the build folder, newest first; no file is no record, a torn or invalid line is skipped. */
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

/**
 * The build folder's given hostnames, for a deploy about to name its cards. A record that cannot be read stops the
 * deploy: numbering without it could give a second kiosk a name already in use.
 */
export async function readGivenHostnames(buildFolder: string): Promise<GivenHostname[]> {
  try {
    return givenHostnames(await readDeployments(buildFolder));
  } catch (error) {
    throw new AtlasError(
      'IO_ERROR',
      `The deployment record ${join(buildFolder, DEPLOYMENTS_FILE)} cannot be read (${(error as Error).message}), so the new hostnames cannot be numbered on from the ones given before. Make it readable, then try again.`,
      { path: join(buildFolder, DEPLOYMENTS_FILE) },
    );
  }
}

function parseRecord(line: string): DeploymentRecord | null {
  if (line.trim() === '') return null;
  let o: Partial<DeploymentRecord> | null;
  try {
    o = JSON.parse(line) as Partial<DeploymentRecord> | null;
  } catch {
    return null;
  }
  const ok =
    typeof o === 'object' &&
    o !== null &&
    typeof o.time === 'string' &&
    typeof o.clone === 'string' &&
    (o.intent === 'exact' || o.intent === 'deploy') &&
    typeof o.card === 'object' &&
    o.card !== null &&
    typeof o.card.device === 'string' &&
    typeof o.verified === 'boolean' &&
    typeof o.ok === 'boolean';
  return ok ? (o as DeploymentRecord) : null;
}
