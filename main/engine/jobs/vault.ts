/**
 * The vault: the permanent archive of golden images and clone folders (default /Volumes/NVME_VAULT/golden-atlas-img/).
 *
 * vaultSyncJob copies the build folder's artifacts that the vault lacks, each one whole or not at all:
 *  - a clone folder is copied into `golden-clone-TAG.partial/` and renamed at the end; a golden image's files go to
 *    `X.img.partial`, `X.manifest.json.partial` ... and the image is renamed last, so its presence means complete;
 *  - every file is hashed while it is copied (one read of the source), fsynced, then READ BACK from the vault
 *    (O_DIRECT on Linux, so from the disk rather than the page cache) and its sha256 compared with the source's
 *    manifest, or with the hash taken while copying when no manifest covers it;
 *  - checksums for what no manifest covers are written on the vault side, in `sha256sum -c` format:
 *      clone folder without atlas-manifest.json (made by the shell commands), or with files the manifest does not
 *      list: `SHA256SUMS` inside the folder, listing every file of the folder;
 *      golden image (its sidecar records the injected files, not the image's own hash): `X.sha256` beside it,
 *      listing the image and its sidecar.
 *    A source that already carries such a file has it copied as is and used as the reference.
 *  - an artifact already in the vault is never modified. Identical (same files and sizes, and the same
 *    modification times, which copies keep, or else the same sha256; `checksum` always compares sha256) → skipped.
 *    Different → CONFLICT naming it, before anything is copied: a person must resolve it.
 *  - unfinished copies (`*.partial`, from a crash, an unplugged disk or a cancel) are replaced by the next sync.
 * A copy-on-write clone (FICLONE) is used only when both folders are on one filesystem; the copy is still read back.
 *
 * vaultVerifyJob re-hashes every artifact of a folder against its manifest and checksum files, reporting each one
 * ok, damaged or without checksum.
 */
import { constants, promises as fsp, type Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { AtlasError, isAtlasError, throwIfCancelled, toAtlasError } from '../errors';
import { freeSpace } from '../io/free-space';
import { syncDir } from '../io/durable';
import { ProgressMeter, type JobControl } from '../progress';
import { Sha256, sha256File } from '../io/hash';
import { alignedBuffer, openDirect, type DirectDevice } from '../io/direct';
import { readFullyAt, writeFullyAt } from '../io/block-file';
import { readCloneManifest } from '../library/clone-folder';
import {
  CLONE_CHECKSUM_FILE,
  PARTIAL_SUFFIX,
  describeArtifact,
  formatSha256Sums,
  goldenChecksumName,
  listArtifacts,
  parseSha256Sums,
  type Artifact,
  type ArtifactFile,
} from '../library/catalog';

const CHUNK = 8 * 1024 * 1024;
const COPY_CHUNK = 1024 * 1024;
const COPY_AHEAD = 4;
/** Files keep the source's mtime; vault disks formatted FAT/exFAT store it to 2 s. */
const MODIFY_WINDOW_MS = 2000;
const LOCK_FILE = '.atlas-vault-sync.lock';

export interface VaultSyncOptions {
  /** the build folder */
  from: string;
  /** the vault folder; never created: a missing vault means its disk is not plugged in */
  to: string;
  /** only these artifacts (image file names or clone folder names); default all */
  items?: string[];
  /** plan only: report what would be copied, write nothing */
  dryRun?: boolean;
  /** compare artifacts present on both sides by sha256 even when sizes and times match */
  checksum?: boolean;
}

export type ChecksumReference = 'manifest' | 'sha256sums' | 'copy';

export interface VaultSyncFile {
  name: string;
  size: number;
  /** verified sha256 (absent in a dry run) */
  sha256?: string;
  /** what the read-back was compared with: the source's manifest or checksum file, or the hash taken while copying */
  reference?: ChecksumReference;
}

export interface VaultSyncItem {
  name: string;
  kind: Artifact['kind'];
  phase: 0 | 1;
  action: 'copied' | 'identical' | 'would-copy';
  bytes: number;
  files: VaultSyncFile[];
  /** how the bytes were copied */
  method?: 'copy' | 'reflink';
  /** the checksum file written on the vault side, if any */
  checksumFile?: string;
  /** a `*.partial` from an earlier, unfinished copy that this sync replaced */
  replacedPartial?: boolean;
}

export interface VaultSyncResult {
  from: string;
  to: string;
  dryRun: boolean;
  items: VaultSyncItem[];
  copied: number;
  identical: number;
  /** bytes copied (or that would be) */
  bytes: number;
  /** free bytes on the vault before copying */
  freeBytes: number;
}

export interface VaultConflict {
  name: string;
  reason: string;
}

/** Copies the build folder's artifacts missing from the vault, verifies each copy, never overwrites. */
export async function vaultSyncJob(
  options: VaultSyncOptions,
  control: JobControl = {},
): Promise<VaultSyncResult> {
  const { signal } = control;
  throwIfCancelled(signal);
  const from = resolve(options.from);
  const to = resolve(options.to);
  await checkVault(to);
  const fromStat = await fsp.stat(from).catch((error: unknown) => {
    throw (error as NodeJS.ErrnoException).code === 'ENOENT'
      ? new AtlasError('NOT_FOUND', `The build folder ${from} does not exist.`, { folder: from })
      : toAtlasError(error, `Cannot read the build folder ${from}`);
  });
  if (!fromStat.isDirectory())
    throw new AtlasError('INVALID_ARGUMENT', `The build folder ${from} is not a folder.`);
  const toStat = await fsp.stat(to);
  if ((await fsp.realpath(from)) === (await fsp.realpath(to))) {
    throw new AtlasError('SOURCE_IS_TARGET', `The build folder and the vault are the same folder (${to}).`);
  }

  // ---- plan: what to copy, what is already there, what conflicts
  const source = await listArtifacts(from);
  let artifacts = source.artifacts;
  if (options.items && options.items.length > 0) {
    const wanted = options.items.map((item) => basename(item.replace(/\/+$/, '')));
    const missing = wanted.filter((w) => !artifacts.some((a) => a.name === w));
    if (missing.length > 0) {
      throw new AtlasError(
        'NOT_FOUND',
        `${missing.join(', ')} ${missing.length === 1 ? 'is not an artifact' : 'are not artifacts'} of the build folder ${from} (a golden image ods-atlas-golden-vN-P-TAG.img or a golden-clone-TAG folder).`,
        { missing },
      );
    }
    artifacts = artifacts.filter((a) => wanted.includes(a.name));
  }
  artifacts = [...artifacts].sort((a, b) => a.name.localeCompare(b.name));
  const toCopy: Artifact[] = [];
  const items: VaultSyncItem[] = [];
  const conflicts: VaultConflict[] = [];
  for (const artifact of artifacts) {
    throwIfCancelled(signal);
    const verdict = await compareWithVault(artifact, to, options.checksum === true, signal);
    if (verdict === 'missing') toCopy.push(artifact);
    else if (verdict === 'identical') items.push(itemOf(artifact, 'identical'));
    else conflicts.push({ name: artifact.name, reason: verdict.conflict });
  }
  if (conflicts.length > 0) {
    const list = conflicts.map((c) => `${c.name} (${c.reason})`).join('; ');
    throw new AtlasError(
      'CONFLICT',
      `The vault already holds ${conflicts.length === 1 ? 'an artifact' : 'artifacts'} of the same name with other content: ${list}. Nothing was copied and nothing in the vault was changed; rename or remove one side, or sync the others with --item.`,
      { conflicts },
    );
  }
  const needed = toCopy.reduce((sum, a) => sum + a.files.reduce((s, f) => s + f.size, 0), 0);
  const freeBytes = await freeSpace(to);
  const sameDevice = fromStat.dev === toStat.dev;
  if (options.dryRun) {
    for (const artifact of toCopy) items.push(itemOf(artifact, 'would-copy'));
    return summary(from, to, true, items, freeBytes);
  }
  // a filesystem that reflinks needs almost no space for the copy; otherwise the bytes plus a little metadata
  const margin = toCopy.length * 1024 * 1024;
  if (!sameDevice && needed + margin > freeBytes) {
    throw new AtlasError(
      'TARGET_TOO_SMALL',
      `The vault ${to} has ${gib(freeBytes)} free but the sync needs ${gib(needed)} (${toCopy.length} artifact${toCopy.length === 1 ? '' : 's'}). Free some space on the vault or sync fewer items.`,
      { freeBytes, neededBytes: needed },
    );
  }

  // ---- copy, verify, rename: artifact by artifact
  const meter = new ProgressMeter('syncing', 2 * needed, control.onProgress);
  const release = toCopy.length > 0 ? await takeLock(to) : async () => undefined;
  try {
    for (const artifact of toCopy) {
      throwIfCancelled(signal);
      items.push(await copyArtifact(artifact, to, sameDevice, meter, signal));
    }
  } finally {
    await release();
  }
  meter.finish();
  items.sort((a, b) => a.name.localeCompare(b.name));
  return summary(from, to, false, items, freeBytes);
}

function summary(
  from: string,
  to: string,
  dryRun: boolean,
  items: VaultSyncItem[],
  freeBytes: number,
): VaultSyncResult {
  const moving = items.filter((i) => i.action !== 'identical');
  return {
    from,
    to,
    dryRun,
    items: items.sort((a, b) => a.name.localeCompare(b.name)),
    copied: moving.length,
    identical: items.length - moving.length,
    bytes: moving.reduce((sum, i) => sum + i.bytes, 0),
    freeBytes,
  };
}

function itemOf(artifact: Artifact, action: VaultSyncItem['action']): VaultSyncItem {
  return {
    name: artifact.name,
    kind: artifact.kind,
    phase: artifact.phase,
    action,
    bytes: action === 'identical' ? 0 : artifact.files.reduce((s, f) => s + f.size, 0),
    files: artifact.files.map((f) => ({ name: f.name, size: f.size })),
  };
}

/**
 * The vault must exist already: a missing folder almost always means its disk is not plugged in (and creating it
 * would fill the system disk under /Volumes instead). Under /Volumes/NAME on a Mac, NAME must be a mounted volume.
 */
export async function checkVault(vault: string): Promise<void> {
  const disk = /^\/Volumes\/([^/]+)/.exec(vault)?.[1];
  const hint = disk ? `is the ${disk} disk plugged in?` : "is the vault's disk plugged in and mounted?";
  let st: Stats;
  try {
    st = await fsp.stat(vault);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new AtlasError('VAULT_UNAVAILABLE', `The vault ${vault} is not there: ${hint}`, { vault });
    }
    throw toAtlasError(error, `Cannot open the vault ${vault}`);
  }
  if (!st.isDirectory())
    throw new AtlasError('INVALID_ARGUMENT', `The vault ${vault} is not a folder.`, { vault });
  if (disk) {
    const [volume, root] = await Promise.all([fsp.stat(`/Volumes/${disk}`), fsp.stat('/')]);
    const link = await fsp.lstat(`/Volumes/${disk}`);
    if (!link.isSymbolicLink() && volume.dev === root.dev) {
      throw new AtlasError(
        'VAULT_UNAVAILABLE',
        `The vault ${vault} is a folder on the system disk, not on the ${disk} volume: ${hint}`,
        { vault },
      );
    }
  }
}

function gib(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(2)} GiB`;
}

// ---------------------------------------------------------------------------------------------------------------
// comparing with what the vault holds

/** Checksums a side records for an artifact's files: its manifest's and its sha256sum file's. */
async function recordedHashes(
  artifact: Artifact,
): Promise<Map<string, { sha256: string; from: ChecksumReference }>> {
  const hashes = new Map<string, { sha256: string; from: ChecksumReference }>();
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

async function compareWithVault(
  artifact: Artifact,
  vault: string,
  checksum: boolean,
  signal: AbortSignal | undefined,
): Promise<Verdict> {
  const target = join(vault, artifact.name);
  const st = await fsp.lstat(target).catch(() => null);
  if (!st) {
    if (artifact.kind === 'golden-image') {
      // a sidecar left alone (its image never arrived) may be replaced only by the same bytes
      for (const file of artifact.files) {
        if (file.name === artifact.name || file.name === artifact.checksumFile) continue;
        const other = await fsp.readFile(join(vault, file.name)).catch(() => null);
        if (other && !other.equals(await fsp.readFile(file.path))) {
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
  for (const [name, file] of ours) {
    const other = theirs.get(name)!;
    if (other.size !== file.size) {
      return { conflict: `${name} is ${file.size} bytes here and ${other.size} bytes in the vault` };
    }
  }
  for (const [name, file] of ours) {
    const other = theirs.get(name)!;
    if (!checksum && Math.abs(other.mtimeMs - file.mtimeMs) <= MODIFY_WINDOW_MS) continue;
    // both sides' bytes, not what a manifest claims: a vault copy changed since its manifest was written differs too
    const mine = await sha256File(file.path, signal ? { signal } : {});
    const theirsHash = await sha256File(other.path, signal ? { signal } : {});
    if (mine !== theirsHash) return { conflict: `${name} has other content in the vault` };
  }
  return 'identical';
}

// ---------------------------------------------------------------------------------------------------------------
// copying one artifact

async function copyArtifact(
  artifact: Artifact,
  vault: string,
  sameDevice: boolean,
  meter: ProgressMeter,
  signal: AbortSignal | undefined,
): Promise<VaultSyncItem> {
  // references: the source's manifest and checksum file; a manifest that does not match its files is refused
  const references = await recordedHashes(artifact).catch((error: unknown) => {
    throw new AtlasError(
      'MANIFEST_MISMATCH',
      `${artifact.name} in the build folder has an unreadable manifest or checksum file: ${toAtlasError(error).message}`,
      { artifact: artifact.name },
    );
  });
  const isClone = artifact.kind === 'clone-folder';
  const partialDir = isClone ? join(vault, `${artifact.name}${PARTIAL_SUFFIX}`) : vault;
  let replacedPartial = false;
  if (isClone) {
    replacedPartial = await exists(partialDir);
    await fsp.rm(partialDir, { recursive: true, force: true });
    await fsp.mkdir(partialDir, { mode: 0o755 });
  } else {
    for (const file of [...artifact.files.map((f) => f.name), goldenChecksumName(artifact.name)]) {
      const partial = join(vault, `${file}${PARTIAL_SUFFIX}`);
      if (await exists(partial)) replacedPartial = true;
      await fsp.rm(partial, { force: true });
    }
  }

  try {
    return await copyInto(
      artifact,
      vault,
      partialDir,
      references,
      sameDevice,
      meter,
      signal,
      replacedPartial,
    );
  } catch (error) {
    // a cancel leaves the *.partial as a crash would (the next sync replaces it); a failure removes it
    if (!isAtlasError(error, 'CANCELLED') && !signal?.aborted) {
      if (isClone) await fsp.rm(partialDir, { recursive: true, force: true }).catch(() => undefined);
      else {
        for (const name of [...artifact.files.map((f) => f.name), goldenChecksumName(artifact.name)]) {
          await fsp.rm(join(vault, `${name}${PARTIAL_SUFFIX}`), { force: true }).catch(() => undefined);
        }
      }
    }
    throw error;
  }
}

async function copyInto(
  artifact: Artifact,
  vault: string,
  partialDir: string,
  references: Map<string, { sha256: string; from: ChecksumReference }>,
  sameDevice: boolean,
  meter: ProgressMeter,
  signal: AbortSignal | undefined,
  replacedPartial: boolean,
): Promise<VaultSyncItem> {
  const isClone = artifact.kind === 'clone-folder';
  const finalName = (file: ArtifactFile): string => (isClone ? file.name : `${file.name}${PARTIAL_SUFFIX}`);
  const files: VaultSyncFile[] = [];
  let method: 'copy' | 'reflink' = 'copy';
  for (const file of artifact.files) {
    throwIfCancelled(signal);
    const label = isClone ? `${artifact.name}/${file.name}` : file.name;
    const dest = join(partialDir, finalName(file));
    meter.setDetail(`copying ${label}`);
    const copied = await copyFile(file.path, dest, sameDevice, meter, signal);
    if (copied.method === 'reflink') method = 'reflink';
    const reference = references.get(file.name);
    if (reference && copied.sha256 !== null && copied.sha256 !== reference.sha256) {
      throw new AtlasError(
        'CHECKSUM_MISMATCH',
        `${label} in the build folder does not match its ${reference.from === 'manifest' ? 'manifest' : 'checksum file'}: the source is damaged, so it was not archived.`,
        { artifact: artifact.name, file: file.name },
      );
    }
    meter.setDetail(`verifying ${label}`);
    const readBack = await readBackSha256(dest, signal, (n) => meter.add(n));
    // a reflink passed no bytes: then the read-back itself is the hash, compared with the manifest when there is one
    const expected = reference?.sha256 ?? copied.sha256;
    if (expected !== null && readBack.sha256 !== expected) {
      await fsp.rm(dest, { force: true });
      throw new AtlasError(
        'VERIFY_MISMATCH',
        `${label} read back from the vault does not match the ${reference ? reference.from : 'copied data'} (sha256 ${readBack.sha256}, expected ${expected}): the vault disk may be failing. Nothing was renamed into place.`,
        { artifact: artifact.name, file: file.name },
      );
    }
    files.push({
      name: file.name,
      size: file.size,
      sha256: readBack.sha256,
      reference: reference?.from ?? 'copy',
    });
  }

  // the vault-side checksum file, for what no manifest covers
  let checksumFile: string | undefined;
  const uncovered = files.some(
    (f) => f.reference === 'copy' && !(isClone && f.name === artifact.manifestFile),
  );
  if (!artifact.checksumFile && (artifact.kind === 'golden-image' || uncovered)) {
    checksumFile = isClone ? CLONE_CHECKSUM_FILE : goldenChecksumName(artifact.name);
    const path = join(partialDir, isClone ? checksumFile : `${checksumFile}${PARTIAL_SUFFIX}`);
    await writeDurably(path, formatSha256Sums(files.map((f) => ({ name: f.name, sha256: f.sha256! }))));
  }

  throwIfCancelled(signal);
  if (isClone) {
    await syncDir(partialDir);
    await fsp.rename(partialDir, join(vault, artifact.name));
  } else {
    // sidecar and checksums first, the image last: the image's presence means the artifact is complete
    const names = [...files.map((f) => f.name), ...(checksumFile ? [checksumFile] : [])];
    names.sort((a, b) => (a === artifact.name ? 1 : b === artifact.name ? -1 : a.localeCompare(b)));
    for (const name of names) await fsp.rename(join(vault, `${name}${PARTIAL_SUFFIX}`), join(vault, name));
  }
  await syncDir(vault);
  return {
    ...itemOf(artifact, 'copied'),
    files,
    method,
    ...(checksumFile ? { checksumFile } : {}),
    ...(replacedPartial ? { replacedPartial } : {}),
  };
}

/**
 * Copies `src` to the new file `dest`, hashing the bytes as they pass (null when reflinked: no bytes passed), keeping
 * the source's mode and modification time, and fsyncs it. Reads and writes overlap (two buffers).
 */
async function copyFile(
  src: string,
  dest: string,
  sameDevice: boolean,
  meter: ProgressMeter,
  signal: AbortSignal | undefined,
): Promise<{ sha256: string | null; method: 'copy' | 'reflink' }> {
  const st = await fsp.stat(src);
  if (sameDevice && st.size > 0) {
    const reflinked = await fsp
      .copyFile(src, dest, constants.COPYFILE_FICLONE_FORCE | constants.COPYFILE_EXCL)
      .then(() => true)
      .catch(() => false);
    if (reflinked) {
      const handle = await fsp.open(dest, 'r+');
      try {
        await handle.chmod(st.mode & 0o7777);
        await handle.utimes(st.atime, st.mtime);
        await handle.sync();
      } finally {
        await handle.close();
      }
      meter.add(st.size);
      return { sha256: null, method: 'reflink' };
    }
  }
  const input = await fsp.open(src, 'r');
  let output: FileHandle | null = null;
  try {
    output = await fsp.open(dest, 'wx', st.mode & 0o777);
    const size = (await input.stat()).size;
    const hasher = new Sha256();
    // 1 MiB reads, several in flight: the kernel's read-ahead keeps streaming (measured: large single reads of a
    // cold file stall between requests); a ring of COPY_AHEAD + 1 buffers, one being written while the rest fill
    const buffers = Array.from({ length: COPY_AHEAD + 1 }, () => Buffer.allocUnsafe(COPY_CHUNK));
    const queue: Array<Promise<{ buffer: Buffer; at: number; got: number; want: number }>> = [];
    let next = 0;
    let chunk = 0;
    const issue = (): void => {
      if (next >= size) return;
      const at = next;
      const want = Math.min(COPY_CHUNK, size - at);
      const buffer = buffers[chunk % buffers.length]!;
      queue.push(readFullyAt(input, buffer, at, want).then((got) => ({ buffer, at, got, want })));
      next += want;
      chunk += 1;
    };
    for (let k = 0; k < COPY_AHEAD; k++) issue();
    try {
      while (queue.length > 0) {
        const { buffer, at, got, want } = await queue.shift()!;
        throwIfCancelled(signal);
        if (got < want) {
          throw new AtlasError('TRUNCATED', `${src} shrank while it was being copied (at byte ${at + got}).`);
        }
        // the write runs on libuv's pool while this thread hashes the same (unchanging) buffer
        const written = writeFullyAt(
          output,
          buffer,
          at,
          got,
          (offset) => new AtlasError('IO_ERROR', `The vault accepted no more data (at byte ${offset}).`),
        );
        hasher.update(buffer.subarray(0, got));
        await written;
        meter.add(got);
        issue();
      }
    } finally {
      // reads still in flight must not land in buffers after we return
      await Promise.allSettled(queue);
    }
    await output.chmod(st.mode & 0o7777);
    await output.utimes(st.atime, st.mtime);
    await output.sync();
    return { sha256: hasher.digest(), method: 'copy' };
  } catch (error) {
    throwIfCancelled(signal);
    if (isAtlasError(error)) throw error;
    throw toAtlasError(error, `Copying ${src} to the vault failed`);
  } finally {
    await input.close();
    await output?.close();
  }
}

/**
 * sha256 of a file read back from its disk: O_DIRECT where the filesystem offers it (Linux), so the bytes come
 * from the medium and not from the page cache the copy just filled. Elsewhere a plain read.
 */
export async function readBackSha256(
  path: string,
  signal: AbortSignal | undefined,
  onBytes?: (bytes: number) => void,
): Promise<{ sha256: string; bytes: number; direct: boolean }> {
  const size = (await fsp.stat(path)).size;
  let device: DirectDevice;
  try {
    device = await openDirect(path, { write: false, direct: size >= 4096 });
  } catch (error) {
    throw toAtlasError(error, `Cannot read back ${path}`);
  }
  try {
    const buffers = [alignedBuffer(CHUNK, [device]), alignedBuffer(CHUNK, [device])];
    const hasher = new Sha256();
    // O_DIRECT needs aligned lengths: ask for whole chunks; the last read stops at the end of the file
    const readAt = async (i: number, position: number): Promise<number> => {
      const { bytesRead } = await device.handle.read(buffers[i % 2]!, 0, CHUNK, position);
      return bytesRead;
    };
    let position = 0;
    let index = 0;
    let pending: Promise<number> | null = size > 0 ? readAt(0, 0) : null;
    while (pending) {
      const got = await pending;
      pending = null;
      throwIfCancelled(signal);
      if (got === 0) break;
      const current = buffers[index % 2]!;
      const take = Math.min(got, size - position);
      position += take;
      index += 1;
      if (position < size) pending = readAt(index, position);
      hasher.update(current.subarray(0, take));
      onBytes?.(take);
    }
    if (position < size) {
      throw new AtlasError(
        'TRUNCATED',
        `${path} ended at byte ${position} of ${size} while reading it back.`,
      );
    }
    return { sha256: hasher.digest(), bytes: position, direct: device.direct };
  } catch (error) {
    throwIfCancelled(signal);
    throw toAtlasError(error, `Cannot read back ${path}`);
  } finally {
    await device.handle.close();
  }
}

async function writeDurably(path: string, text: string): Promise<void> {
  const handle = await fsp.open(path, 'wx', 0o644);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function exists(path: string): Promise<boolean> {
  return (await fsp.lstat(path).catch(() => null)) !== null;
}

/**
 * One sync at a time per vault: a lock file naming the host and process. A lock whose process is gone (a crash, or
 * another machine: the disk is plugged into one machine at a time) is taken over.
 */
async function takeLock(vault: string): Promise<() => Promise<void>> {
  const path = join(vault, LOCK_FILE);
  const mine = JSON.stringify({ host: hostname(), pid: process.pid, since: new Date().toISOString() });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await fsp.writeFile(path, mine, { flag: 'wx' });
      return async () => {
        await fsp.rm(path, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST')
        throw toAtlasError(error, `Cannot write to the vault ${vault}`);
    }
    const held = await fsp
      .readFile(path, 'utf8')
      .then((t) => JSON.parse(t) as { host?: string; pid?: number })
      .catch(() => ({}) as { host?: string; pid?: number });
    if (held.host === hostname() && typeof held.pid === 'number' && alive(held.pid)) {
      throw new AtlasError(
        'ALREADY_EXISTS',
        `Another vault sync (process ${held.pid}) is copying into ${vault}; wait for it to finish.`,
        { lock: path },
      );
    }
    await fsp.rm(path, { force: true });
  }
  throw new AtlasError('INTERNAL', `Cannot take the vault lock ${path}.`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

// ---------------------------------------------------------------------------------------------------------------
// verifying the vault

export type VaultFileStatus = 'ok' | 'damaged' | 'missing' | 'unchecked';

export interface VaultVerifyArtifact {
  name: string;
  kind: Artifact['kind'];
  phase: 0 | 1;
  /** ok: every checksum matches; damaged: one or more files differ or are missing; no-checksum: nothing to check against */
  status: 'ok' | 'damaged' | 'no-checksum';
  files: Array<{ name: string; status: VaultFileStatus; reference?: ChecksumReference; detail?: string }>;
  /** one line for a person */
  message: string;
}

export interface VaultVerifyResult {
  folder: string;
  ok: boolean;
  artifacts: VaultVerifyArtifact[];
  damaged: number;
  unchecked: number;
  partials: string[];
}

export async function vaultVerifyJob(
  options: { folder: string },
  control: JobControl = {},
): Promise<VaultVerifyResult> {
  const folder = resolve(options.folder);
  await checkVault(folder);
  const catalog = await listArtifacts(folder);
  const plans: Array<{
    artifact: Artifact;
    refs: Map<string, { sha256: string; from: ChecksumReference }>;
    error?: string;
  }> = [];
  for (const artifact of [...catalog.artifacts].sort((a, b) => a.name.localeCompare(b.name))) {
    try {
      plans.push({ artifact, refs: await recordedHashes(artifact) });
    } catch (error) {
      plans.push({ artifact, refs: new Map(), error: toAtlasError(error).message });
    }
  }
  const total = plans.reduce(
    (sum, p) => sum + p.artifact.files.filter((f) => p.refs.has(f.name)).reduce((s, f) => s + f.size, 0),
    0,
  );
  const meter = new ProgressMeter('verifying', total, control.onProgress);
  const artifacts: VaultVerifyArtifact[] = [];
  for (const { artifact, refs, error } of plans) {
    throwIfCancelled(control.signal);
    const files: VaultVerifyArtifact['files'] = [];
    const present = new Map(artifact.files.map((f) => [f.name, f]));
    for (const [name, ref] of [...refs].sort(([a], [b]) => a.localeCompare(b))) {
      const file = present.get(name);
      if (!file) {
        files.push({ name, status: 'missing', reference: ref.from, detail: `${name} is listed but missing` });
        continue;
      }
      meter.setDetail(artifact.kind === 'clone-folder' ? `${artifact.name}/${name}` : name);
      const { sha256 } = await readBackSha256(file.path, control.signal, (n) => meter.add(n));
      files.push(
        sha256 === ref.sha256
          ? { name, status: 'ok', reference: ref.from }
          : {
              name,
              status: 'damaged',
              reference: ref.from,
              detail: `sha256 ${sha256}, expected ${ref.sha256}`,
            },
      );
    }
    for (const file of artifact.files) {
      if (refs.has(file.name) || file.name === artifact.checksumFile || file.name === artifact.manifestFile)
        continue;
      files.push({ name: file.name, status: 'unchecked' });
    }
    const bad = files.filter((f) => f.status === 'damaged' || f.status === 'missing');
    const checked = files.filter((f) => f.status === 'ok').length;
    let status: VaultVerifyArtifact['status'];
    let message: string;
    if (error) {
      status = 'damaged';
      message = `its manifest or checksum file cannot be read: ${error}`;
    } else if (bad.length > 0) {
      status = 'damaged';
      message = `DAMAGED: ${bad.map((f) => `${f.name} ${f.status === 'missing' ? 'is missing' : 'does not match its checksum'}`).join('; ')}`;
    } else if (checked === 0) {
      status = 'no-checksum';
      message =
        'no manifest or checksum file to check against (sync it again from a build folder that has it)';
    } else {
      const unchecked = files.filter((f) => f.status === 'unchecked').map((f) => f.name);
      status = 'ok';
      message = `${checked} file${checked === 1 ? '' : 's'} match${checked === 1 ? 'es' : ''} ${checked === 1 ? 'its' : 'their'} sha256${unchecked.length ? ` (no checksum for ${unchecked.join(', ')})` : ''}`;
    }
    artifacts.push({
      name: artifact.name,
      kind: artifact.kind,
      phase: artifact.phase,
      status,
      files,
      message,
    });
  }
  meter.finish();
  const damaged = artifacts.filter((a) => a.status === 'damaged').length;
  return {
    folder,
    ok: damaged === 0,
    artifacts,
    damaged,
    unchecked: artifacts.filter((a) => a.status === 'no-checksum').length,
    partials: catalog.partials,
  };
}
