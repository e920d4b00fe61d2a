/**
 * The catalog of a library folder (the build folder or the vault): its Phase 0 golden images and Phase 1 clone
 * folders. Reads names, sizes, dates and manifests only; never an image's content.
 *
 *   ods-atlas-golden-vN-P-TAG.img            Phase 0 (Insert)
 *   ods-atlas-golden-vN-P-TAG.manifest.json  its sidecar manifest (older spellings: X.img.json, X.json)
 *   ods-atlas-golden-vN-P-TAG.sha256         written by vault sync: `sha256sum -c` format, the image and sidecar
 *   golden-clone-TAG/                        Phase 1 (Clone, or the shell commands)
 *     atlas-manifest.json                    absent from folders the shell commands made
 *     SHA256SUMS                             written by vault sync for files no manifest covers
 *   *.partial                                unfinished copies: never artifacts, listed apart
 *   .DS_Store, ._NAME ...                    what macOS writes on FAT/exFAT: ignored (hidden-files.ts)
 */
import { promises as fsp, type Stats } from 'node:fs';
import { join } from 'node:path';
import { AtlasError, toAtlasError } from '../errors';
import { CLONE_FOLDER_PATTERN, GOLDEN_IMAGE_PATTERN } from '../../shared/names';
import { MANIFEST_FILE } from './clone-folder';
import { isHiddenName, visibleEntries } from './hidden-files';
import { linkClones, parentOfManifest } from './lineage';

/** The vault-side checksum file of a clone folder (`sha256sum -c SHA256SUMS` inside the folder). */
export const CLONE_CHECKSUM_FILE = 'SHA256SUMS';
export const PARTIAL_SUFFIX = '.partial';

export type ArtifactKind = 'golden-image' | 'clone-folder';

export interface ArtifactFile {
  /** name within the artifact: a sibling of the image for Phase 0, a file inside the folder for Phase 1 */
  name: string;
  path: string;
  size: number;
  mtimeMs: number;
}

export interface Artifact {
  kind: ArtifactKind;
  phase: 0 | 1;
  /** the image's file name or the clone folder's name: what `items` and the CLI call it */
  name: string;
  /** the image file or the clone folder */
  path: string;
  /** the folder the files' names resolve in (the library folder for Phase 0, the clone folder for Phase 1) */
  root: string;
  tag: string | null;
  /** Phase 0 only: vN-P from the name */
  version?: { version: number; patch: number };
  /** ISO date: the manifest's `created`, or the image's / folder's modification time */
  created: string;
  /** the image's size (Phase 0); every file of the folder (Phase 1) */
  size: number;
  /** whether an Atlas manifest sits with it (the sidecar for Phase 0, atlas-manifest.json for Phase 1) */
  hasManifest: boolean;
  /** the manifest's name within the artifact, or null */
  manifestFile: string | null;
  /** the sha256sum-format checksum file's name within the artifact (vault side), or null */
  checksumFile: string | null;
  /** every regular file of the artifact (image + sidecar + checksums, or the folder's files), sorted by name */
  files: ArtifactFile[];
  /** Phase 1: the golden image (file name) the clone descends from, as its manifest records; absent: unknown */
  parent?: string;
  /** Phase 1: cloned with the Phase rule overridden (its first boot had not run) */
  unbooted?: boolean;
  /** Phase 0: the clone folders listed beside it that descend from it, by name */
  clones?: string[];
}

export interface Catalog {
  folder: string;
  /** newest first */
  artifacts: Artifact[];
  /** unfinished copies (`*.partial`) left by an interrupted job; the next vault sync replaces them */
  partials: string[];
}

/** The sidecar names the app accepts beside `X.img`, in order of preference (Insert writes the first). */
export function sidecarCandidates(imageName: string): string[] {
  const stem = imageName.replace(/\.img$/, '');
  return [`${stem}.manifest.json`, `${imageName}.json`, `${stem}.json`];
}

export function goldenChecksumName(imageName: string): string {
  return `${imageName.replace(/\.img$/, '')}.sha256`;
}

/** Lists the artifacts of a folder. A folder that does not exist is NOT_FOUND (the caller decides what it means). */
export async function listArtifacts(folder: string): Promise<Catalog> {
  let names: string[];
  try {
    names = await visibleEntries(folder);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT')
      throw new AtlasError('NOT_FOUND', `The folder ${folder} does not exist.`, { folder });
    if (code === 'ENOTDIR')
      throw new AtlasError('INVALID_ARGUMENT', `${folder} is not a folder.`, { folder });
    throw toAtlasError(error, `Cannot read ${folder}`);
  }
  const present = new Set(names);
  const artifacts: Artifact[] = [];
  const partials: string[] = [];
  for (const name of names) {
    if (name.endsWith(PARTIAL_SUFFIX)) {
      const stem = name.slice(0, -PARTIAL_SUFFIX.length);
      if (GOLDEN_IMAGE_PATTERN.test(stem) || CLONE_FOLDER_PATTERN.test(stem) || isGoldenSibling(stem)) {
        partials.push(name);
      }
      continue;
    }
    const artifact = await describeArtifact(folder, name, present).catch(() => null);
    if (artifact) artifacts.push(artifact);
  }
  artifacts.sort((a, b) => b.created.localeCompare(a.created) || a.name.localeCompare(b.name));
  linkClones(artifacts);
  return { folder, artifacts, partials };
}

/** A golden image's sidecar or checksum file (ods-atlas-golden-…manifest.json / .sha256 / .img.json). */
function isGoldenSibling(name: string): boolean {
  return /^ods-atlas-golden-v\d+-\d+-.+\.(manifest\.json|sha256|img\.json|json)$/.test(name);
}

/** One artifact by name, or null when `name` is not an artifact of the folder. */
export async function describeArtifact(
  folder: string,
  name: string,
  present?: Set<string>,
): Promise<Artifact | null> {
  const path = join(folder, name);
  const stat = await fsp.stat(path).catch(() => null);
  if (!stat || name.endsWith(PARTIAL_SUFFIX) || isHiddenName(name)) return null;
  const golden = GOLDEN_IMAGE_PATTERN.exec(name);
  if (golden && stat.isFile()) {
    const siblings = present ?? new Set(await visibleEntries(folder));
    const files: ArtifactFile[] = [fileOf(folder, name, stat)];
    let manifestFile: string | null = null;
    let manifest: Record<string, unknown> | null = null;
    for (const candidate of sidecarCandidates(name)) {
      if (!siblings.has(candidate)) continue;
      manifest = await readJson(join(folder, candidate));
      if (manifest) {
        manifestFile = candidate;
        break;
      }
    }
    if (manifestFile) files.push(fileOf(folder, manifestFile, await fsp.stat(join(folder, manifestFile))));
    const sums = goldenChecksumName(name);
    const sumsStat = siblings.has(sums) ? await fsp.stat(join(folder, sums)).catch(() => null) : null;
    if (sumsStat?.isFile()) files.push(fileOf(folder, sums, sumsStat));
    return {
      kind: 'golden-image',
      phase: 0,
      name,
      path,
      root: folder,
      tag: golden[3]!,
      version: { version: Number(golden[1]), patch: Number(golden[2]) },
      created: manifestDate(manifest) ?? stat.mtime.toISOString(),
      size: stat.size,
      hasManifest: manifest !== null,
      manifestFile,
      checksumFile: sumsStat?.isFile() ? sums : null,
      files: files.sort((a, b) => a.name.localeCompare(b.name)),
    };
  }
  const clone = CLONE_FOLDER_PATTERN.exec(name);
  if (clone && stat.isDirectory()) {
    const files: ArtifactFile[] = [];
    for (const entry of await visibleEntries(path)) {
      const s = await fsp.stat(join(path, entry)).catch(() => null);
      if (s?.isFile()) files.push(fileOf(path, entry, s));
    }
    const hasManifestFile = files.some((f) => f.name === MANIFEST_FILE);
    const manifest = hasManifestFile ? await readJson(join(path, MANIFEST_FILE)) : null;
    const lineage = parentOfManifest(manifest);
    return {
      kind: 'clone-folder',
      phase: 1,
      name,
      path,
      root: path,
      tag: typeof manifest?.tag === 'string' ? manifest.tag : clone[1]!,
      created: manifestDate(manifest) ?? stat.mtime.toISOString(),
      size: files.reduce((sum, f) => sum + f.size, 0),
      hasManifest: manifest !== null,
      manifestFile: manifest ? MANIFEST_FILE : null,
      checksumFile: files.some((f) => f.name === CLONE_CHECKSUM_FILE) ? CLONE_CHECKSUM_FILE : null,
      files,
      ...lineage,
    };
  }
  return null;
}

export interface LibraryLocationSpec<L extends string> {
  location: L;
  path: string;
}

export interface LibraryListingOf<L extends string> {
  entries: Array<Artifact & { location: L }>;
  /** folders that could not be read, with why (the vault's disk is often not plugged in) */
  unavailable: Array<{ location: L; path: string; reason: string }>;
  /** unfinished copies per folder */
  partials: Array<{ location: L; name: string }>;
}

/** The Library page's listing over several folders (build, vault), newest first; a folder given twice is read once. */
export async function listLibrary<L extends string>(
  locations: Array<LibraryLocationSpec<L>>,
): Promise<LibraryListingOf<L>> {
  const listing: LibraryListingOf<L> = { entries: [], unavailable: [], partials: [] };
  const seen = new Set<string>();
  for (const { location, path } of locations) {
    if (seen.has(path)) continue;
    seen.add(path);
    try {
      const catalog = await listArtifacts(path);
      for (const artifact of catalog.artifacts) listing.entries.push({ ...artifact, location });
      for (const name of catalog.partials) listing.partials.push({ location, name });
    } catch (error) {
      const e = toAtlasError(error);
      const reason =
        e.code === 'NOT_FOUND'
          ? 'not found (is the disk plugged in?)'
          : `cannot be read (${(e.cause as NodeJS.ErrnoException | undefined)?.code ?? e.code})`;
      listing.unavailable.push({ location, path, reason });
    }
  }
  listing.entries.sort((a, b) => b.created.localeCompare(a.created) || a.name.localeCompare(b.name));
  linkClones(listing.entries);
  return listing;
}

function fileOf(root: string, name: string, stat: Stats): ArtifactFile {
  return { name, path: join(root, name), size: stat.size, mtimeMs: stat.mtimeMs };
}

async function readJson(path: string): Promise<Record<string, unknown> | null> {
  try {
    const value: unknown = JSON.parse(await fsp.readFile(path, 'utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}

export function manifestDate(manifest: Record<string, unknown> | null): string | null {
  const created = manifest?.created;
  return typeof created === 'string' && !Number.isNaN(Date.parse(created))
    ? new Date(created).toISOString()
    : null;
}

/** Parses `sha256sum` output (`<64 hex>  name` or `<64 hex> *name`); other lines are ignored. */
export function parseSha256Sums(text: string): Map<string, string> {
  const sums = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^([0-9a-fA-F]{64}) [ *](.+)$/.exec(line.replace(/\r$/, ''));
    if (m) sums.set(m[2]!.replace(/^\.\//, ''), m[1]!.toLowerCase());
  }
  return sums;
}

export function formatSha256Sums(entries: Array<{ name: string; sha256: string }>): string {
  return entries.map((e) => `${e.sha256}  ${e.name}\n`).join('');
}
