/**
 * Lineage and the Phase rule ("Insert creates Phase 0. Clone creates Phase 1. Never cross these."): which Phase 0
 * golden image a card descends from, whether its Atlas first boot has run, and Clone's refusal when it has not.
 *
 * Insert writes /etc/atlas/golden-release (shell assignments) into the root filesystem; this file owns its fields.
 *
 * The signal for "first boot has run" is the root filesystem's superblock, because it is what every boot changes,
 * whatever the firstboot script does. Insert writes through libext2fs, which never touches the mount count
 * (s_mnt_count) or the last mount time (s_mtime), and records both in golden-release (ROOT_MOUNT_COUNT,
 * ROOT_LAST_MOUNT). Booting the card mounts its root read-write: the kernel adds one to the count and sets the
 * time, and that boot is the one that runs atlas-firstboot.service. Flashing, partclone and read-only mounts
 * change neither. Signals not used:
 *   - a marker of atlas_firstboot.sh: it is the team's script, and Atlas knows of none it leaves;
 *   - the last mount time compared with CREATED: a Pi has no clock at boot (it starts from systemd's build date),
 *     so only "the same time as recorded" is trusted, never "earlier than".
 * e2fsck may reset the count to 0 but never sets the time, so a lower count with the same time is not a boot.
 */
import { AtlasError } from '../errors';
import type { BlockFile } from '../io/block-file';
import { readExtInfo } from '../fs/ext';
import { withExt4 } from '../fs/ext4-inject';
import { parseShellAssignments } from '../jobs/insert/armbian';
import { DEFAULT_DESTINATIONS } from '../jobs/insert/profile';
import { goldenImageName } from '../../shared/names';

/** Where Clone looks for golden-release: Insert's default destination (a profile that moved it hides the lineage). */
export const GOLDEN_RELEASE_PATH = DEFAULT_DESTINATIONS.goldenRelease;

/** golden-release's keys, written by Insert (jobs/insert/plan.ts) and read here. */
export const RELEASE_KEYS = {
  phase: 'ATLAS_PHASE',
  name: 'GOLDEN_NAME',
  version: 'GOLDEN_VERSION',
  patch: 'GOLDEN_PATCH',
  tag: 'GOLDEN_TAG',
  baseImage: 'BASE_IMAGE',
  armbianVersion: 'ARMBIAN_VERSION',
  created: 'CREATED',
  imagerVersion: 'ATLAS_IMAGER_VERSION',
  mountCount: 'ROOT_MOUNT_COUNT',
  lastMount: 'ROOT_LAST_MOUNT',
} as const;

/** What the root superblock says about mounts: the fingerprint Insert records and Clone compares. */
export interface RootFingerprint {
  /** s_mnt_count */
  mountCount: number;
  /** s_mtime, seconds since 1970 (0: never mounted read-write) */
  lastMountTime: number;
}

/** golden-release's text. Values are shell-quoted where needed: later phases source it. */
export function goldenReleaseText(fields: Record<string, string>): Buffer {
  const lines = ['# Written by Atlas Imager at Phase 0 (Insert). Later phases read it; do not edit.'];
  for (const [key, value] of Object.entries(fields)) lines.push(`${key}=${shellQuote(value)}`);
  return Buffer.from(`${lines.join('\n')}\n`, 'utf8');
}

function shellQuote(value: string): string {
  return /^[A-Za-z0-9._:+@/-]*$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

/** The Phase 0 release a card descends from, as golden-release tells it. */
export interface ParentRelease {
  /** the golden image's file name, ods-atlas-golden-vN-P-TAG.img (what the Library lists) */
  image: string;
  /** GOLDEN_NAME, ods-atlas-golden-vN-P-TAG */
  name: string;
  version: number;
  patch: number;
  tag: string;
  armbianVersion: string | null;
  /** when Insert made it (ISO) */
  created: string | null;
}

export interface GoldenRelease {
  parent: ParentRelease;
  /** null: written before Atlas recorded the fingerprint; the first boot cannot be told then */
  fingerprint: RootFingerprint | null;
}

/** Parses golden-release; null when it does not name a golden image (not Insert's file). */
export function parseGoldenRelease(text: string): GoldenRelease | null {
  const f = parseShellAssignments(text);
  const version = wholeNumber(f[RELEASE_KEYS.version]);
  const patch = wholeNumber(f[RELEASE_KEYS.patch]);
  const tag = f[RELEASE_KEYS.tag];
  if (version === null || patch === null || !tag) return null;
  const mountCount = wholeNumber(f[RELEASE_KEYS.mountCount]);
  const lastMountTime = wholeNumber(f[RELEASE_KEYS.lastMount]);
  return {
    parent: {
      image: goldenImageName(version, patch, tag),
      name: f[RELEASE_KEYS.name] ?? goldenImageName(version, patch, tag).replace(/\.img$/, ''),
      version,
      patch,
      tag,
      armbianVersion: f[RELEASE_KEYS.armbianVersion] ?? null,
      created: f[RELEASE_KEYS.created] ?? null,
    },
    fingerprint: mountCount !== null && lastMountTime !== null ? { mountCount, lastMountTime } : null,
  };
}

function wholeNumber(text: string | undefined): number | null {
  return text !== undefined && /^\d{1,15}$/.test(text) ? Number(text) : null;
}

/** Whether the Atlas first boot has run: 'unknown' without a golden-release that records the fingerprint. */
export type FirstBoot = 'ran' | 'not-run' | 'unknown';

/** The rule (see the top of this file): booted when the time moved, or the count grew with it unchanged. */
export function firstBootOf(recorded: RootFingerprint | null, now: RootFingerprint): FirstBoot {
  if (!recorded) return 'unknown';
  const booted = now.lastMountTime !== recorded.lastMountTime || now.mountCount > recorded.mountCount;
  return booted ? 'ran' : 'not-run';
}

/** What a clone's manifest records of where the card came from. */
export interface CloneLineage {
  /** the Phase 0 golden image the card descends from; null: no golden-release, so the lineage is unknown */
  parent: ParentRelease | null;
  firstBoot: FirstBoot;
  /** the Phase rule was overridden: the first boot had not run, and the clone was made anyway (a safety net) */
  allowedUnbooted: boolean;
}

/**
 * Clone's Phase rule: a card whose Atlas first boot has not run is a Phase 0 golden image, not a provisioned
 * device, and is refused unless `allowUnbooted` (the safety net) is given. Returns what the manifest records.
 * The message is for the app (no command-line flags); the CLI adds its flag.
 */
export function applyPhaseRule(
  source: string,
  release: GoldenRelease | null,
  now: RootFingerprint | null,
  allowUnbooted: boolean,
): CloneLineage {
  if (!release || !now)
    return { parent: release?.parent ?? null, firstBoot: 'unknown', allowedUnbooted: false };
  const firstBoot = firstBootOf(release.fingerprint, now);
  if (firstBoot === 'not-run' && !allowUnbooted) {
    throw new AtlasError(
      'PHASE_RULE',
      `${source} holds the golden image ${release.parent.image} as flashed: its root filesystem has not been ` +
        'mounted since Insert made it, so the Atlas first boot has not run. A Phase 1 clone is made from a ' +
        'provisioned device: flash it, let it boot, then clone.',
      { source, parent: release.parent.image },
    );
  }
  return { parent: release.parent, firstBoot, allowedUnbooted: firstBoot === 'not-run' };
}

/** What a card's (or image's) root filesystem shows: its golden-release, if any, and its mount fingerprint now. */
export interface RootFacts {
  release: GoldenRelease | null;
  fingerprint: RootFingerprint;
}

/**
 * Reads golden-release and the superblock of the ext root filesystem at byte `offset` of `source`, read-only,
 * on the source's own descriptor (a card the broker opened).
 */
export async function readRootFacts(
  source: BlockFile,
  offset: number,
  signal?: AbortSignal | undefined,
): Promise<RootFacts> {
  const info = await readExtInfo(source, offset);
  const fingerprint = { mountCount: info.mountCount, lastMountTime: info.lastMountTime };
  const text = await withExt4(
    source.path,
    { offset, fd: source.handle.fd, ...(signal ? { signal } : {}) },
    async (ext4) =>
      (await ext4.stat(GOLDEN_RELEASE_PATH))?.type === 'file' ? ext4.readFile(GOLDEN_RELEASE_PATH) : null,
  );
  return { release: text ? parseGoldenRelease(text.toString('utf8')) : null, fingerprint };
}

/** A clone manifest's (parsed JSON, unchecked) lineage, as the Library shows it: nothing when it records none. */
export function parentOfManifest(manifest: Record<string, unknown> | null): {
  parent?: string;
  unbooted?: boolean;
} {
  const lineage = manifest?.lineage as Partial<CloneLineage> | undefined;
  if (typeof lineage !== 'object' || lineage === null) return {};
  const image = lineage.parent?.image;
  return {
    ...(typeof image === 'string' ? { parent: image } : {}),
    ...(lineage.allowedUnbooted === true ? { unbooted: true } : {}),
  };
}

/**
 * Lists, on each golden image, the clone folders among `artifacts` that descend from it (by name, once each, even
 * when the build folder and the vault both hold it). Golden images without clones get none.
 */
export function linkClones(
  artifacts: Array<{ kind: string; name: string; parent?: string; clones?: string[] }>,
): void {
  const byParent = new Map<string, Set<string>>();
  for (const a of artifacts) {
    if (a.kind !== 'clone-folder' || !a.parent) continue;
    const set = byParent.get(a.parent) ?? new Set<string>();
    set.add(a.name);
    byParent.set(a.parent, set);
  }
  for (const a of artifacts) {
    const clones = a.kind === 'golden-image' ? byParent.get(a.name) : undefined;
    if (clones) a.clones = [...clones].sort();
  }
}
