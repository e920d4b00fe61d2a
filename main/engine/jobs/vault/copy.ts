/**
 * Copying one artifact into the vault, whole or not at all:
 *  - a clone folder goes to `golden-clone-TAG.partial/`, renamed at the end; a golden image's files go to
 *    `X.img.partial`, `X.manifest.json.partial` ... and the image is renamed last, so its presence means complete;
 *  - every file is hashed while it is copied (one read of the source), fsynced, then read back from the vault's
 *    disk (io/hash sha256FromDisk) and compared with the source's manifest or checksum file, or with the hash taken
 *    while copying when none covers it;
 *  - what no manifest covers gets a checksum file on the vault side, in `sha256sum -c` format: `SHA256SUMS` inside
 *    a clone folder, `X.sha256` beside a golden image;
 *  - files and folders keep the source's mode (a golden image is 0600: it holds the secrets) and modification time.
 * A copy-on-write clone (FICLONE) is used only when both folders are on one filesystem; it is still read back.
 */
import { constants, promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { AtlasError, isAtlasError, throwIfCancelled, toAtlasError } from '../../errors';
import { syncDir } from '../../io/durable';
import { readFullyAt, writeFullyAt } from '../../io/block-file';
import { readAhead } from '../../io/direct';
import { Sha256, sha256FromDisk } from '../../io/hash';
import { fullSync, uncachedWriter } from '../../io/cache';
import type { ProgressMeter } from '../../progress';
import {
  CLONE_CHECKSUM_FILE,
  PARTIAL_SUFFIX,
  formatSha256Sums,
  goldenChecksumName,
  type Artifact,
  type ArtifactFile,
} from '../../library/catalog';
import { recordedHashes, type ChecksumReference, type RecordedHashes } from './plan';

/** 1 MiB reads, several in flight: the kernel's read-ahead keeps streaming (large single reads of a cold file stall). */
const COPY_CHUNK = 1024 * 1024;
const COPY_AHEAD = 4;

export interface VaultSyncFile {
  name: string;
  size: number;
  /** verified sha256 (absent in a dry run) */
  sha256?: string;
  /** what the read-back was compared with: the source's manifest or checksum file, or the hash taken while copying */
  reference?: ChecksumReference;
  /** the read-back bypassed the page cache (O_DIRECT, or F_NOCACHE on macOS; see io/hash sha256FromDisk) */
  readFromDisk?: boolean;
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
  /** bytes of earlier, unfinished copies that were proved and kept (a resumed pull from a remote folder) */
  resumedBytes?: number;
  /** connections that dropped during this copy and were resumed */
  resumes?: number;
}

export function itemOf(artifact: Artifact, action: VaultSyncItem['action']): VaultSyncItem {
  return {
    name: artifact.name,
    kind: artifact.kind,
    phase: artifact.phase,
    action,
    bytes: action === 'identical' ? 0 : artifact.files.reduce((s, f) => s + f.size, 0),
    files: artifact.files.map((f) => ({ name: f.name, size: f.size })),
  };
}

/** Copies, verifies and renames one artifact into place; a failure removes its partial, a cancel leaves it. */
export async function copyArtifact(
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
  const goldenPartials = [...artifact.files.map((f) => f.name), goldenChecksumName(artifact.name)].map(
    (name) => join(vault, `${name}${PARTIAL_SUFFIX}`),
  );
  let replacedPartial = false;
  if (isClone) {
    replacedPartial = await exists(partialDir);
    await fsp.rm(partialDir, { recursive: true, force: true });
    await fsp.mkdir(partialDir, { mode: 0o700 });
  } else {
    for (const partial of goldenPartials) {
      if (await exists(partial)) replacedPartial = true;
      await fsp.rm(partial, { force: true });
    }
  }

  try {
    const item = await copyInto(artifact, vault, partialDir, references, sameDevice, meter, signal);
    return { ...item, ...(replacedPartial ? { replacedPartial } : {}) };
  } catch (error) {
    // a cancel leaves the *.partial as a crash would (the next sync replaces it); a failure removes it
    if (!isAtlasError(error, 'CANCELLED') && !signal?.aborted) {
      if (isClone) await fsp.rm(partialDir, { recursive: true, force: true }).catch(() => undefined);
      else
        for (const partial of goldenPartials) await fsp.rm(partial, { force: true }).catch(() => undefined);
    }
    throw error;
  }
}

async function copyInto(
  artifact: Artifact,
  vault: string,
  partialDir: string,
  references: RecordedHashes,
  sameDevice: boolean,
  meter: ProgressMeter,
  signal: AbortSignal | undefined,
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
    const readBack = await sha256FromDisk(dest, { signal, onBytes: (n) => meter.add(n) });
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
      readFromDisk: readBack.fromDisk,
    });
  }

  const folder = isClone ? await fsp.stat(artifact.path) : null;
  const checksumFile = await placeArtifact(artifact, vault, partialDir, files, folder, signal);
  return { ...itemOf(artifact, 'copied'), files, method, ...(checksumFile ? { checksumFile } : {}) };
}

/**
 * The last steps of a copy into the vault (local or from a remote folder), once every file is verified in its
 * partial: the vault-side checksum file for what no manifest covers, then the rename into place. A clone folder
 * takes `folder`'s mode and times. Returns the checksum file written, if any.
 */
export async function placeArtifact(
  artifact: Artifact,
  vault: string,
  partialDir: string,
  files: VaultSyncFile[],
  folder: { mode: number; atime: Date | number; mtime: Date | number } | null,
  signal: AbortSignal | undefined,
): Promise<string | undefined> {
  const isClone = artifact.kind === 'clone-folder';
  // the vault-side checksum file, for what no manifest covers
  let checksumFile: string | undefined;
  const uncovered = files.some(
    (f) =>
      (f.reference === 'copy' || f.reference === 'remote') && !(isClone && f.name === artifact.manifestFile),
  );
  if (!artifact.checksumFile && (artifact.kind === 'golden-image' || uncovered)) {
    checksumFile = isClone ? CLONE_CHECKSUM_FILE : goldenChecksumName(artifact.name);
    const path = join(partialDir, isClone ? checksumFile : `${checksumFile}${PARTIAL_SUFFIX}`);
    await writeDurably(path, formatSha256Sums(files.map((f) => ({ name: f.name, sha256: f.sha256! }))));
  }

  throwIfCancelled(signal);
  if (isClone) {
    // the folder as the source's: its mode (0700 while partial, so nobody reads it half-copied) and its time
    if (folder) {
      await fsp.chmod(partialDir, folder.mode & 0o7777);
      await fsp.utimes(partialDir, folder.atime, folder.mtime);
    }
    await syncDir(partialDir);
    await fsp.rename(partialDir, join(vault, artifact.name));
  } else {
    // sidecar and checksums first, the image last: the image's presence means the artifact is complete
    const names = [...files.map((f) => f.name), ...(checksumFile ? [checksumFile] : [])];
    names.sort((a, b) => (a === artifact.name ? 1 : b === artifact.name ? -1 : a.localeCompare(b)));
    for (const name of names) await fsp.rename(join(vault, `${name}${PARTIAL_SUFFIX}`), join(vault, name));
  }
  await syncDir(vault);
  return checksumFile;
}

/**
 * Copies `src` to the new file `dest`, hashing the bytes as they pass (null when reflinked: no bytes passed), keeping
 * the source's mode and modification time, and fsyncs it. Reads run ahead of the write and the hash.
 */
async function copyFile(
  src: string,
  dest: string,
  sameDevice: boolean,
  meter: ProgressMeter,
  signal: AbortSignal | undefined,
): Promise<{ sha256: string | null; method: 'copy' | 'reflink' }> {
  const st = await fsp.stat(src);
  // never wider than the source while it is being written: 0600 stays 0600 from the first byte
  const mode = st.mode & 0o7777;
  if (sameDevice && st.size > 0) {
    const reflinked = await fsp
      .copyFile(src, dest, constants.COPYFILE_FICLONE_FORCE | constants.COPYFILE_EXCL)
      .then(() => true)
      .catch(() => false);
    if (reflinked) {
      const handle = await fsp.open(dest, 'r+');
      try {
        await handle.chmod(mode);
        await handle.utimes(st.atime, st.mtime);
        await fullSync(handle);
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
    output = await fsp.open(dest, 'wx', mode & 0o777);
    // the read-back that follows must find the medium, not the pages written here (macOS: F_NOCACHE)
    await uncachedWriter(output);
    const size = (await input.stat()).size;
    const hasher = new Sha256();
    const position = (k: number): number => k * COPY_CHUNK;
    const want = (k: number): number => Math.min(COPY_CHUNK, size - position(k));
    const pool = Array.from({ length: COPY_AHEAD + 1 }, () => Buffer.allocUnsafe(COPY_CHUNK));
    const blocks = readAhead(pool, {
      count: Math.ceil(size / COPY_CHUNK),
      ahead: COPY_AHEAD,
      signal,
      position,
      want,
      read: (k, buffer) => readFullyAt(input, buffer, position(k), want(k)),
    });
    for await (const { buffer, length, position: at } of blocks) {
      if (length < Math.min(COPY_CHUNK, size - at)) {
        throw new AtlasError(
          'TRUNCATED',
          `${src} shrank while it was being copied (at byte ${at + length}).`,
        );
      }
      // the write runs on libuv's pool while this thread hashes the same (unchanging) buffer; the buffer is read
      // into again only once the next block is asked for, after the write
      const written = writeFullyAt(
        output,
        buffer,
        at,
        length,
        (offset) => new AtlasError('IO_ERROR', `The vault accepted no more data (at byte ${offset}).`),
      );
      hasher.update(buffer.subarray(0, length));
      await written;
      meter.add(length);
    }
    await output.chmod(mode);
    await output.utimes(st.atime, st.mtime);
    await fullSync(output);
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

async function writeDurably(path: string, text: string): Promise<void> {
  const handle = await fsp.open(path, 'wx', 0o644);
  try {
    await handle.writeFile(text);
    await fullSync(handle);
  } finally {
    await handle.close();
  }
}

async function exists(path: string): Promise<boolean> {
  return (await fsp.lstat(path).catch(() => null)) !== null;
}
