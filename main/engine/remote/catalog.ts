/**
 * The catalog of a remote build folder, read in one ssh round trip: a small POSIX sh script lists the golden images
 * and clone folders (name, size, mtime, mode of every file) and sends their manifests and checksum files along.
 * The artifacts are described by the same rules as a local folder's (library/catalog: names, sidecars, checksum
 * files); their `path`s are relative to the remote folder.
 */
import { AtlasError } from '../errors';
import { CLONE_FOLDER_PATTERN, GOLDEN_IMAGE_PATTERN } from '../../shared/names';
import { formatRemoteFolder, type RemoteFolder } from '../../shared/remote-folders';
import {
  CLONE_CHECKSUM_FILE,
  goldenChecksumName,
  manifestDate,
  parseSha256Sums,
  sidecarCandidates,
  type Artifact,
  type ArtifactFile,
  type Catalog,
} from '../library/catalog';
import { MANIFEST_FILE } from '../library/clone-folder';
import { isHiddenName } from '../library/hidden-files';
import { remotePathWord, runRemote, shellQuote, type SshOptions } from './ssh';

/** Manifests and checksum files bigger than this are not sent (theirs are a few KiB). */
const MAX_TEXT_BYTES = 4 * 1024 * 1024;
/** The listing script's exit code for a folder that is not there. */
const MISSING_EXIT = 3;

/** A remote file: `path` relative to the remote folder, and its mode. */
export interface RemoteFile extends ArtifactFile {
  mode: number;
}

export interface RemoteArtifact extends Artifact {
  files: RemoteFile[];
  /** the clone folder's own mode and mtime (Phase 1) */
  folder?: { mode: number; mtimeMs: number };
  /** sha256s the build folder records for the artifact's files (its manifest, its checksum file) */
  hashes: Map<string, { sha256: string; from: 'manifest' | 'sha256sums' }>;
}

export interface RemoteCatalog extends Catalog {
  remote: RemoteFolder;
  artifacts: RemoteArtifact[];
}

/**
 * F<TAB>path<TAB>size mtime mode   every file of an artifact (clone folders: D for the folder itself)
 * C<TAB>path<TAB>bytes             followed by that many bytes: a manifest or checksum file's text
 * stat is GNU's or BSD's (a Mac can be the build box too).
 */
const LIST_SCRIPT = `
d=$1
[ -d "$d" ] || exit ${MISSING_EXIT}
cd "$d" || exit 4
st() { stat -c '%s %Y %a' -- "$1" 2>/dev/null || stat -f '%z %m %Lp' -- "$1"; }
for f in ods-atlas-golden-* golden-clone-*; do
  case $f in *.partial) continue;; esac
  if [ -f "$f" ]; then printf 'F\\t%s\\t%s\\n' "$f" "$(st "$f")"
  elif [ -d "$f" ]; then
    printf 'D\\t%s\\t%s\\n' "$f" "$(st "$f")"
    for g in "$f"/*; do [ -f "$g" ] && printf 'F\\t%s\\t%s\\n' "$g" "$(st "$g")"; done
  fi
done
for f in ods-atlas-golden-*.json ods-atlas-golden-*.sha256 golden-clone-*/${MANIFEST_FILE} golden-clone-*/${CLONE_CHECKSUM_FILE}; do
  [ -f "$f" ] || continue
  n=$(wc -c < "$f" | tr -d ' ')
  [ "$n" -le ${MAX_TEXT_BYTES} ] || continue
  printf 'C\\t%s\\t%s\\n' "$f" "$n"
  cat -- "$f"
done
exit 0
`;

/** Lists the remote folder's artifacts; a folder that is not there is REMOTE_NOT_FOUND. */
export async function listRemoteArtifacts(
  remote: RemoteFolder,
  options: SshOptions & { signal?: AbortSignal | undefined } = {},
): Promise<RemoteCatalog> {
  const command = `sh -c ${shellQuote(LIST_SCRIPT)} sh ${remotePathWord(remote.path)}`;
  const { code, stdout, stderr } = await runRemote(remote, command, options);
  const folder = formatRemoteFolder(remote);
  if (code === MISSING_EXIT) {
    throw new AtlasError('REMOTE_NOT_FOUND', `The folder ${remote.path} does not exist on ${remote.host}.`, {
      folder,
    });
  }
  if (code !== 0) {
    throw new AtlasError(
      'REMOTE_READ_ERROR',
      `${remote.host} could not list ${remote.path}: ${stderr.trim().split('\n').at(-1) ?? `exit ${code}`}.`,
      { folder },
    );
  }
  return { ...parseListing(stdout, folder), remote };
}

interface Listing {
  files: Map<string, { size: number; mtimeMs: number; mode: number }>;
  dirs: Map<string, { mode: number; mtimeMs: number }>;
  texts: Map<string, string>;
}

/** Parses the script's output into artifacts, newest first (as the local catalog orders them). */
export function parseListing(output: Buffer, folder: string): Omit<RemoteCatalog, 'remote'> {
  const listing = readListing(output);
  const artifacts: RemoteArtifact[] = [];
  for (const [name, stat] of listing.files) {
    const golden = GOLDEN_IMAGE_PATTERN.exec(name);
    if (golden && !name.includes('/')) artifacts.push(goldenArtifact(name, golden, stat, listing));
  }
  for (const [name, stat] of listing.dirs) {
    const clone = CLONE_FOLDER_PATTERN.exec(name);
    if (clone) artifacts.push(cloneArtifact(name, clone[1]!, stat, listing));
  }
  artifacts.sort((a, b) => b.created.localeCompare(a.created) || a.name.localeCompare(b.name));
  return { folder, artifacts, partials: [] };
}

function readListing(output: Buffer): Listing {
  const listing: Listing = { files: new Map(), dirs: new Map(), texts: new Map() };
  let at = 0;
  while (at < output.length) {
    const end = output.indexOf(0x0a, at);
    if (end < 0) break;
    const [type, path, rest] = output.subarray(at, end).toString('utf8').split('\t');
    at = end + 1;
    if (!path || rest === undefined) continue;
    if (type === 'C') {
      const bytes = Number(rest);
      listing.texts.set(path, output.subarray(at, at + bytes).toString('utf8'));
      at += bytes;
      continue;
    }
    const [size, mtime, mode] = rest.split(' ').map(Number);
    if (!Number.isFinite(size) || !Number.isFinite(mtime)) continue;
    const stat = { size: size!, mtimeMs: mtime! * 1000, mode: parseInt(String(mode ?? 600), 8) || 0o600 };
    if (type === 'D') listing.dirs.set(path, stat);
    else if (type === 'F' && !path.split('/').some(isHiddenName)) listing.files.set(path, stat);
  }
  return listing;
}

function goldenArtifact(
  name: string,
  golden: RegExpExecArray,
  stat: { size: number; mtimeMs: number; mode: number },
  listing: Listing,
): RemoteArtifact {
  const files: RemoteFile[] = [fileOf(name, name, stat)];
  let manifestFile: string | null = null;
  let manifest: Record<string, unknown> | null = null;
  for (const candidate of sidecarCandidates(name)) {
    const text = listing.texts.get(candidate);
    const sidecar = listing.files.get(candidate);
    manifest = text !== undefined && sidecar ? parseJson(text) : null;
    if (manifest && sidecar) {
      manifestFile = candidate;
      files.push(fileOf(candidate, candidate, sidecar));
      break;
    }
  }
  const hashes: RemoteArtifact['hashes'] = new Map();
  const sums = goldenChecksumName(name);
  const sumsStat = listing.files.get(sums);
  if (sumsStat) {
    files.push(fileOf(sums, sums, sumsStat));
    for (const [file, sha256] of parseSha256Sums(listing.texts.get(sums) ?? '')) {
      hashes.set(file, { sha256, from: 'sha256sums' });
    }
  }
  return {
    kind: 'golden-image',
    phase: 0,
    name,
    path: name,
    root: '',
    tag: golden[3]!,
    version: { version: Number(golden[1]), patch: Number(golden[2]) },
    created: manifestDate(manifest) ?? new Date(stat.mtimeMs).toISOString(),
    size: stat.size,
    hasManifest: manifest !== null,
    manifestFile,
    checksumFile: sumsStat ? sums : null,
    files: files.sort((a, b) => a.name.localeCompare(b.name)),
    hashes,
  };
}

function cloneArtifact(
  name: string,
  tagFromName: string,
  stat: { mode: number; mtimeMs: number },
  listing: Listing,
): RemoteArtifact {
  const files: RemoteFile[] = [];
  for (const [path, s] of listing.files) {
    if (path.startsWith(`${name}/`) && !path.slice(name.length + 1).includes('/')) {
      files.push(fileOf(path.slice(name.length + 1), path, s));
    }
  }
  files.sort((a, b) => a.name.localeCompare(b.name));
  const hashes: RemoteArtifact['hashes'] = new Map();
  const sumsText = listing.texts.get(`${name}/${CLONE_CHECKSUM_FILE}`);
  const hasSums = files.some((f) => f.name === CLONE_CHECKSUM_FILE);
  if (hasSums && sumsText !== undefined) {
    for (const [file, sha256] of parseSha256Sums(sumsText)) hashes.set(file, { sha256, from: 'sha256sums' });
  }
  const manifestText = listing.texts.get(`${name}/${MANIFEST_FILE}`);
  const manifest = manifestText !== undefined ? parseJson(manifestText) : null;
  for (const f of Array.isArray(manifest?.files) ? (manifest.files as unknown[]) : []) {
    const entry = f as { name?: unknown; sha256?: unknown };
    if (
      typeof entry.name === 'string' &&
      typeof entry.sha256 === 'string' &&
      /^[0-9a-f]{64}$/.test(entry.sha256)
    ) {
      hashes.set(entry.name, { sha256: entry.sha256, from: 'manifest' });
    }
  }
  return {
    kind: 'clone-folder',
    phase: 1,
    name,
    path: name,
    root: name,
    tag: typeof manifest?.tag === 'string' ? manifest.tag : tagFromName,
    created: manifestDate(manifest) ?? new Date(stat.mtimeMs).toISOString(),
    size: files.reduce((sum, f) => sum + f.size, 0),
    hasManifest: manifest !== null,
    manifestFile: manifest ? MANIFEST_FILE : null,
    checksumFile: hasSums ? CLONE_CHECKSUM_FILE : null,
    files,
    folder: stat,
    hashes,
  };
}

function fileOf(
  name: string,
  path: string,
  stat: { size: number; mtimeMs: number; mode: number },
): RemoteFile {
  return { name, path, size: stat.size, mtimeMs: stat.mtimeMs, mode: stat.mode };
}

function parseJson(text: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}
