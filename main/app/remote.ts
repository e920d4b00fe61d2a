/**
 * The Library page's remote build folders: a folder's artifacts listed over ssh (engine/remote) and, for each, whether
 * the vault holds it. "Held" is judged from names and sizes only (nothing is read): a pull compares the bytes.
 */
import type { RemoteEntry, RemoteListing, VaultHolding } from '../contract';
import { AtlasError } from '../engine/errors';
import { listArtifacts, type Artifact } from '../engine/library/catalog';
import { listRemoteArtifacts } from '../engine/remote/catalog';
import { sshOptionsFromEnv } from '../engine/remote/ssh';
import { formatRemoteFolder, parseRemoteFolder, type RemoteFolder } from '../shared/remote-folders';

/** A remote folder as given in a request: checked against the one rule, written canonically. */
export function remoteFolderOf(text: string): { remote: RemoteFolder; text: string } {
  const parsed = parseRemoteFolder(text);
  if ('error' in parsed) throw new AtlasError('INVALID_ARGUMENT', `The remote build folder: ${parsed.error}`);
  return { remote: parsed, text: formatRemoteFolder(parsed) };
}

export async function listRemote(
  folder: string,
  vaultFolder: string,
  signal?: AbortSignal,
): Promise<RemoteListing> {
  const { remote, text } = remoteFolderOf(folder);
  const [catalog, vault] = await Promise.all([
    listRemoteArtifacts(remote, { ...sshOptionsFromEnv(), signal }),
    listArtifacts(vaultFolder).catch(() => null),
  ]);
  const held = new Map(vault?.artifacts.map((a) => [a.name, a]) ?? []);
  const entries: RemoteEntry[] = catalog.artifacts.map((a) => ({
    kind: a.kind,
    phase: a.phase,
    name: a.name,
    tag: a.tag,
    created: a.created,
    size: a.size,
    hasManifest: a.hasManifest,
    inVault: vault ? holding(a, held.get(a.name)) : 'unknown',
  }));
  return { folder: text, entries };
}

/** Same name and, file by file, the same sizes (the vault's own checksum file aside). */
export function holding(remote: Artifact, there: Artifact | undefined): VaultHolding {
  if (!there) return 'missing';
  if (there.kind !== remote.kind) return 'differs';
  const sizes = new Map(there.files.map((f) => [f.name, f.size]));
  return remote.files.every((f) => sizes.get(f.name) === f.size) ? 'held' : 'differs';
}
