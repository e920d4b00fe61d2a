/**
 * Vault sync from a remote build folder (`ssh://host/~/atlas-build`): the same promise as a local sync (sync.ts) —
 * a plan that refuses any conflict before the first byte, `*.partial` until verified, never an overwrite — with
 * the bytes coming over the system's ssh (engine/remote):
 *  - each file is hashed as it arrives and compared with the build folder's manifest or checksum file, and with
 *    the build box's own sha256sum of it (run beside the transfer). When the received bytes differ from the
 *    manifest but equal what the build box reads, the file on the build box is what changed: damaged, not archived;
 *  - a dropped connection resumes from the partial's proved prefix (remote/fetch.ts), in this job a few times and
 *    in the next sync after that: a cancel or a lost connection keeps the partial, a damaged file removes it;
 *  - then, as for a local copy, the file is fsynced, read back from the vault's disk and compared.
 */
import { promises as fsp } from 'node:fs';
import { join, resolve } from 'node:path';
import { AtlasError, throwIfCancelled } from '../../errors';
import { freeSpace } from '../../io/free-space';
import { sha256FromDisk } from '../../io/hash';
import { takeLockFile } from '../../io/lock';
import { ProgressMeter, type JobControl } from '../../progress';
import { PARTIAL_SUFFIX, goldenChecksumName } from '../../library/catalog';
import { MANIFEST_FILE } from '../../library/clone-folder';
import { listRemoteArtifacts, type RemoteArtifact, type RemoteFile } from '../../remote/catalog';
import { fetchRemoteFile, remoteSha256 } from '../../remote/fetch';
import { sshOptionsFromEnv, type SshOptions } from '../../remote/ssh';
import { parseRemoteFolder, type RemoteFolder } from '../../../shared/remote-folders';
import { itemOf, placeArtifact, type VaultSyncFile, type VaultSyncItem } from './copy';
import { planSync, selectArtifacts } from './plan';
import { LOCK_FILE, summary, type VaultSyncOptions, type VaultSyncResult } from './sync';
import { checkRoom, checkVault } from './volume';

export interface RemotePullOptions extends VaultSyncOptions {
  /** how ssh is run (default: the system's ssh with the user's config; ATLAS_SSH_CONFIG names another config) */
  ssh?: SshOptions;
}

/** Pulls the remote build folder's artifacts that the vault (or local folder) `to` lacks. */
export async function remotePullJob(
  options: RemotePullOptions,
  control: JobControl = {},
): Promise<VaultSyncResult> {
  const { signal } = control;
  throwIfCancelled(signal);
  const remote = parseRemote(options.from);
  const to = resolve(options.to);
  await checkVault(to, options);
  const ssh = { ...(options.ssh ?? sshOptionsFromEnv()), signal };

  const catalog = await listRemoteArtifacts(remote, ssh);
  const artifacts = selectArtifacts(catalog, options.items) as RemoteArtifact[];
  // an artifact the vault holds is compared with the build box's bytes (its sha256sum), or its recorded sums
  const plan = await planSync(artifacts, to, options.checksum === true, signal, async (file) => {
    const owner = artifacts.find((a) => a.files.includes(file as RemoteFile))!;
    const sum = await remoteSha256(remote, file as RemoteFile, ssh);
    const recorded = owner.hashes.get(file.name)?.sha256;
    if (sum ?? recorded) return (sum ?? recorded)!;
    throw new AtlasError(
      'UNSUPPORTED',
      `${file.name} is in the vault already, and ${remote.host} cannot compute checksums (no sha256sum) to compare it with.`,
    );
  });
  const items = plan.identical.map((artifact) => itemOf(artifact, 'identical'));
  const toCopy = plan.toCopy as RemoteArtifact[];
  const needed = toCopy.reduce((sum, a) => sum + a.files.reduce((s, f) => s + f.size, 0), 0);
  const freeBytes = await freeSpace(to);
  if (options.dryRun) {
    items.push(...toCopy.map((artifact) => itemOf(artifact, 'would-copy')));
    return summary(options.from, to, true, items, freeBytes);
  }
  // partials from an interrupted pull are resumed, so their bytes are already on the disk
  let partialBytes = 0;
  for (const artifact of toCopy) {
    for (const file of artifact.files) partialBytes += (await partialSize(to, artifact, file)) ?? 0;
  }
  checkRoom(to, {
    freeBytes,
    neededBytes: needed - partialBytes,
    artifacts: toCopy.length,
    from: remote.host,
  });

  const meter = new ProgressMeter('syncing', 2 * needed, control.onProgress);
  const release =
    toCopy.length > 0
      ? await takeLockFile(
          join(to, LOCK_FILE),
          (pid) => `Another vault sync (process ${pid}) is copying into ${to}; wait for it to finish.`,
        )
      : async () => undefined;
  try {
    for (const artifact of toCopy) {
      throwIfCancelled(signal);
      items.push(await pullArtifact(artifact, remote, to, meter, ssh));
    }
  } finally {
    await release();
  }
  meter.finish();
  return summary(options.from, to, false, items, freeBytes);
}

function parseRemote(text: string): RemoteFolder {
  const parsed = parseRemoteFolder(text);
  if ('error' in parsed)
    throw new AtlasError('INVALID_ARGUMENT', `The remote folder ${text}: ${parsed.error}`);
  return parsed;
}

/** Where a file of the artifact is received: inside `NAME.partial/` (a clone folder) or as `FILE.partial`. */
function partialPath(vault: string, artifact: RemoteArtifact, file: RemoteFile): string {
  return artifact.kind === 'clone-folder'
    ? join(vault, `${artifact.name}${PARTIAL_SUFFIX}`, file.name)
    : join(vault, `${file.name}${PARTIAL_SUFFIX}`);
}

async function partialSize(
  vault: string,
  artifact: RemoteArtifact,
  file: RemoteFile,
): Promise<number | null> {
  const st = await fsp.lstat(partialPath(vault, artifact, file)).catch(() => null);
  return st?.isFile() && st.size <= file.size ? st.size : null;
}

async function pullArtifact(
  artifact: RemoteArtifact,
  remote: RemoteFolder,
  vault: string,
  meter: ProgressMeter,
  ssh: SshOptions & { signal: AbortSignal | undefined },
): Promise<VaultSyncItem> {
  const { signal } = ssh;
  const isClone = artifact.kind === 'clone-folder';
  if (isClone && artifact.files.some((f) => f.name === MANIFEST_FILE) && !artifact.hasManifest) {
    throw new AtlasError(
      'MANIFEST_MISMATCH',
      `${artifact.name} on ${remote.host} has a manifest that cannot be read: the folder is damaged, so it was not archived.`,
      { artifact: artifact.name },
    );
  }
  const partialDir = isClone ? join(vault, `${artifact.name}${PARTIAL_SUFFIX}`) : vault;
  await keepOnlyResumable(artifact, vault, partialDir);

  const files: VaultSyncFile[] = [];
  let resumedBytes = 0;
  let resumes = 0;
  for (const file of artifact.files) {
    throwIfCancelled(signal);
    const label = isClone ? `${artifact.name}/${file.name}` : file.name;
    const dest = partialPath(vault, artifact, file);
    meter.setDetail(`receiving ${label} from ${remote.host}`);
    // the build box hashes its own copy while it sends it
    const theirs = remoteSha256(remote, file, ssh);
    theirs.catch(() => undefined);
    const fetched = await fetchRemoteFile(remote, file, dest, file.mode, meter, ssh);
    resumedBytes += fetched.resumedFrom;
    resumes += fetched.resumes;
    await fsp.chmod(dest, file.mode & 0o777);
    await fsp.utimes(dest, file.mtimeMs / 1000, file.mtimeMs / 1000);
    // the received bytes, as the destination disk holds them (read past the page cache where the system can)
    meter.setDetail(`verifying ${label}`);
    const received = await sha256FromDisk(dest, { signal, onBytes: (n) => meter.add(n) });
    const far = await theirs;
    const recorded = artifact.hashes.get(file.name);
    const refuse = async (code: 'CHECKSUM_MISMATCH' | 'VERIFY_MISMATCH', message: string): Promise<never> => {
      await fsp.rm(dest, { force: true });
      throw new AtlasError(code, message, { artifact: artifact.name, file: file.name });
    };
    if (recorded && received.sha256 !== recorded.sha256 && (far === null || far !== recorded.sha256)) {
      // the build box reads it differently from its manifest too: the source is what changed
      const what = recorded.from === 'manifest' ? 'manifest' : 'checksum file';
      await refuse(
        'CHECKSUM_MISMATCH',
        `${label} on ${remote.host} does not match its ${what}: the file on the build box is damaged or was changed after the ${what} was written, so it was not archived.`,
      );
    }
    const expected = recorded?.sha256 ?? far;
    if (expected !== null && received.sha256 !== expected) {
      await refuse(
        'VERIFY_MISMATCH',
        `${label} read back from ${vault} does not match the ${recorded ? recorded.from : "build box's sha256sum"} (sha256 ${received.sha256}, expected ${expected}): it arrived damaged, or the disk may be failing. Nothing was renamed into place; sync again.`,
      );
    }
    files.push({
      name: file.name,
      size: file.size,
      sha256: received.sha256,
      reference: recorded?.from ?? (far !== null ? 'remote' : 'copy'),
      readFromDisk: received.fromDisk,
    });
  }
  const folder = artifact.folder
    ? {
        mode: artifact.folder.mode,
        atime: artifact.folder.mtimeMs / 1000,
        mtime: artifact.folder.mtimeMs / 1000,
      }
    : null;
  const checksumFile = await placeArtifact(artifact, vault, partialDir, files, folder, signal);
  return {
    ...itemOf(artifact, 'copied'),
    files,
    method: 'copy',
    ...(checksumFile ? { checksumFile } : {}),
    ...(resumedBytes > 0 ? { resumedBytes } : {}),
    ...(resumes > 0 ? { resumes } : {}),
  };
}

/**
 * Prepares the partials: the artifact's own files are kept to be resumed (each is proved before use); anything
 * else in a clone folder's partial (a file since removed on the build box, a checksum file of an earlier try) and
 * a golden image's old checksum partial go, so only verified files are renamed into place.
 */
async function keepOnlyResumable(artifact: RemoteArtifact, vault: string, partialDir: string): Promise<void> {
  if (artifact.kind === 'clone-folder') {
    await fsp.mkdir(partialDir, { mode: 0o700 }).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error;
    });
    const st = await fsp.lstat(partialDir);
    if (!st.isDirectory()) {
      await fsp.rm(partialDir, { force: true });
      await fsp.mkdir(partialDir, { mode: 0o700 });
    }
    await fsp.chmod(partialDir, 0o700);
    const wanted = new Set(artifact.files.map((f) => f.name));
    for (const name of await fsp.readdir(partialDir)) {
      if (!wanted.has(name)) await fsp.rm(join(partialDir, name), { recursive: true, force: true });
    }
  } else {
    const sums = goldenChecksumName(artifact.name);
    if (!artifact.files.some((f) => f.name === sums)) {
      await fsp.rm(join(vault, `${sums}${PARTIAL_SUFFIX}`), { force: true });
    }
  }
}
