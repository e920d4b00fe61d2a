/**
 * What a vault sync would do, decided before anything is written: which artifacts of the build folder to copy,
 * which the vault already holds identical, and which conflict (same name, other content).
 */
import { promises as fsp } from 'node:fs';
import { basename, join } from 'node:path';
import { AtlasError, throwIfCancelled } from '../../errors';
import { sha256File } from '../../io/hash';
import { readCloneManifest } from '../../library/clone-folder';
import {
  describeArtifact,
  parseSha256Sums,
  type Artifact,
  type ArtifactFile,
  type Catalog,
} from '../../library/catalog';

/** Files keep the source's mtime; vault disks formatted FAT/exFAT store it to 2 s. */
const MODIFY_WINDOW_MS = 2000;

/**
 * What a file's sha256 is checked against: the source's manifest or checksum file, the build box's own sha256sum
 * of it (a remote folder), or the hash taken while copying.
 */
export type ChecksumReference = 'manifest' | 'sha256sums' | 'remote' | 'copy';

export type RecordedHashes = Map<string, { sha256: string; from: ChecksumReference }>;

export interface VaultConflict {
  name: string;
  reason: string;
}

export interface VaultPlan {
  toCopy: Artifact[];
  identical: Artifact[];
}

/** The artifacts of the build folder to consider: all of them, or the `items` named (an unknown name is an error). */
export function selectArtifacts(source: Catalog, items: string[] | undefined): Artifact[] {
  let artifacts = source.artifacts;
  if (items && items.length > 0) {
    const wanted = items.map((item) => basename(item.replace(/\/+$/, '')));
    const missing = wanted.filter((w) => !artifacts.some((a) => a.name === w));
    if (missing.length > 0) {
      throw new AtlasError(
        'NOT_FOUND',
        `${missing.join(', ')} ${missing.length === 1 ? 'is not an artifact' : 'are not artifacts'} of the build folder ${source.folder} (a golden image ods-atlas-golden-vN-P-TAG.img or a golden-clone-TAG folder).`,
        { missing },
      );
    }
    artifacts = artifacts.filter((a) => wanted.includes(a.name));
  }
  return [...artifacts].sort((a, b) => a.name.localeCompare(b.name));
}

/** Compares each artifact with the vault; any conflict is CONFLICT naming them all, before anything is copied. */
export async function planSync(
  artifacts: Artifact[],
  vault: string,
  checksum: boolean,
  signal: AbortSignal | undefined,
  sourceHash: SourceHash = (file) => sha256File(file.path, signal ? { signal } : {}),
): Promise<VaultPlan> {
  const plan: VaultPlan = { toCopy: [], identical: [] };
  const conflicts: VaultConflict[] = [];
  for (const artifact of artifacts) {
    throwIfCancelled(signal);
    const verdict = await compareWithVault(artifact, vault, checksum, signal, sourceHash);
    if (verdict === 'missing') plan.toCopy.push(artifact);
    else if (verdict === 'identical') plan.identical.push(artifact);
    else conflicts.push({ name: artifact.name, reason: verdict.conflict });
  }
  if (conflicts.length > 0) {
    const list = conflicts.map((c) => `${c.name} (${c.reason})`).join('; ');
    throw new AtlasError(
      'CONFLICT',
      `The vault already holds ${conflicts.length === 1 ? 'an artifact' : 'artifacts'} of the same name with other content: ${list}. Nothing was copied and nothing in the vault was changed; rename or remove one side, or sync only the others.`,
      { conflicts },
    );
  }
  return plan;
}

/** Checksums a side records for an artifact's files: its manifest's and its sha256sum file's. */
export async function recordedHashes(artifact: Artifact): Promise<RecordedHashes> {
  const hashes: RecordedHashes = new Map();
  if (artifact.checksumFile) {
    const text = await fsp.readFile(join(artifact.root, artifact.checksumFile), 'utf8');
    for (const [name, sha256] of parseSha256Sums(text)) hashes.set(name, { sha256, from: 'sha256sums' });
  }
  if (artifact.kind === 'clone-folder' && artifact.hasManifest) {
    const manifest = await readCloneManifest(artifact.path);
    for (const f of manifest?.files ?? []) hashes.set(f.name, { sha256: f.sha256, from: 'manifest' });
  }
  return hashes;
}

type Verdict = 'missing' | 'identical' | { conflict: string };

/** The sha256 of a source file's bytes: read here for a local folder, computed on the build box for a remote one. */
export type SourceHash = (file: ArtifactFile) => Promise<string>;

/**
 * Identical: the same files and sizes, and the same modification times (copies keep them) or else the same sha256
 * (`checksum` always compares sha256). Hidden files (.DS_Store, ._NAME) are in neither listing.
 */
async function compareWithVault(
  artifact: Artifact,
  vault: string,
  checksum: boolean,
  signal: AbortSignal | undefined,
  sourceHash: SourceHash,
): Promise<Verdict> {
  const target = join(vault, artifact.name);
  const st = await fsp.lstat(target).catch(() => null);
  if (!st) {
    if (artifact.kind === 'golden-image') {
      // a sidecar left alone (its image never arrived) may be replaced only by the same bytes
      for (const file of artifact.files) {
        if (file.name === artifact.name || file.name === artifact.checksumFile) continue;
        const there = join(vault, file.name);
        const other = (await fsp.lstat(there).catch(() => null)) ? await sha256File(there) : null;
        if (other && other !== (await sourceHash(file))) {
          return { conflict: `the vault has another ${file.name}` };
        }
      }
    }
    return 'missing';
  }
  const there = await describeArtifact(vault, artifact.name);
  if (!there || there.kind !== artifact.kind) {
    return {
      conflict: `the vault's ${artifact.name} is not a ${artifact.kind === 'golden-image' ? 'golden image' : 'clone folder'}`,
    };
  }
  // the vault's own checksum file (written by a sync) is not part of the comparison
  const added = artifact.checksumFile ? null : there.checksumFile;
  const theirs = new Map(there.files.filter((f) => f.name !== added).map((f) => [f.name, f]));
  const ours = new Map(artifact.files.map((f) => [f.name, f]));
  const onlyHere = [...ours.keys()].filter((n) => !theirs.has(n));
  const onlyThere = [...theirs.keys()].filter((n) => !ours.has(n));
  if (onlyHere.length > 0) return { conflict: `the vault's copy lacks ${onlyHere.join(', ')}` };
  if (onlyThere.length > 0) return { conflict: `the vault's copy also has ${onlyThere.join(', ')}` };
  const pairs = [...ours].map(([name, file]) => ({ name, file, other: theirs.get(name)! }));
  for (const { name, file, other } of pairs) {
    if (other.size !== file.size) {
      return { conflict: `${name} is ${file.size} bytes here and ${other.size} bytes in the vault` };
    }
  }
  for (const { name, file, other } of pairs) {
    if (!checksum && Math.abs(other.mtimeMs - file.mtimeMs) <= MODIFY_WINDOW_MS) continue;
    // both sides' bytes, not what a manifest claims: a vault copy changed since its manifest was written differs too
    const mine = await sourceHash(file);
    const theirsHash = await sha256File(other.path, signal ? { signal } : {});
    if (mine !== theirsHash) return { conflict: `${name} has other content in the vault` };
  }
  return 'identical';
}
