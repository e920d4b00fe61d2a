/**
 * One remote file into a local `*.partial`, resumable:
 *  - the bytes come from `tail -c +N` over ssh, written by ssh straight into the partial;
 *  - a partial already there continues from its end once its prefix is proved: the sha256 of its bytes must equal
 *    the sha256 of the remote file's first as many bytes (`head -c N | sha256sum` on the build box). A prefix that
 *    differs (another version of the file, a torn write after a crash) starts the file over, and with no way to
 *    hash on the build box the file starts over too. Either way the whole file is then checked against the
 *    manifest or the build box's own sha256sum, so a resume can never let a wrong byte through;
 *  - a connection that drops mid-file is resumed the same way, a few times, before the error is reported.
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { AtlasError, throwIfCancelled, toAtlasError } from '../errors';
import type { ProgressMeter } from '../progress';
import type { RemoteFolder } from '../../shared/remote-folders';
import type { RemoteFile } from './catalog';
import {
  isDroppedConnection,
  remotePathWord,
  runRemote,
  sshFailure,
  startRemote,
  type SshOptions,
} from './ssh';

/** Reads of a partial's prefix to prove it. */
const READ_SIZE = 4 * 1024 * 1024;
/** How often the partial's growth is reported while ssh writes it. */
const PROGRESS_MS = 200;
/** Connection drops resumed within one job before the error is reported (the next sync resumes again). */
const RESUMES = 5;
/** The exit code of the hashing command when the build box has neither sha256sum nor shasum. */
const NO_HASH_TOOL = 127;

export interface FetchOptions extends SshOptions {
  signal?: AbortSignal | undefined;
}

export interface FetchedFile {
  /** bytes of an earlier partial that were proved and kept (0: the file came whole) */
  resumedFrom: number;
  /** connection drops resumed */
  resumes: number;
}

/** The path of a file of the remote folder, as a word for the remote shell. */
export function remoteFileWord(remote: RemoteFolder, relative: string): string {
  return remotePathWord(`${remote.path}/${relative}`);
}

/**
 * sha256 of a remote file (or of its first `length` bytes) computed on the build box, or null when it has no
 * sha256sum or shasum.
 */
export async function remoteSha256(
  remote: RemoteFolder,
  file: RemoteFile,
  options: FetchOptions & { length?: number } = {},
): Promise<string | null> {
  const word = remoteFileWord(remote, file.path);
  const hash =
    'if command -v sha256sum >/dev/null 2>&1; then sha256sum; elif command -v shasum >/dev/null 2>&1; then shasum -a 256; else exit 127; fi';
  const command =
    options.length !== undefined
      ? `head -c ${options.length} -- ${word} | { ${hash}; }`
      : `[ -r ${word} ] || { echo "No such file" >&2; exit 2; }; { ${hash}; } < ${word}`;
  for (let attempt = 0; ; attempt++) {
    try {
      const { code, stdout, stderr } = await runRemote(remote, command, { ...options, maxBytes: 4096 });
      if (code === NO_HASH_TOOL) return null;
      const sum = /^([0-9a-f]{64})\b/.exec(stdout.toString('utf8'));
      if (code !== 0 || !sum) throw remoteReadError(remote, file, stderr, code);
      return sum[1]!;
    } catch (error) {
      if (!isDroppedConnection(error) || attempt >= RESUMES) throw error;
    }
  }
}

/**
 * Fetches `file` into `dest` (created owner-only, or continued after its proved prefix) and fsyncs it. ssh writes
 * straight into the file (no copy through this process: measured 2-3x faster on a busy machine than reading its
 * pipe here); the caller then hashes the file from the disk and compares it with the manifest and the build box's
 * sha256sum, so every byte received is checked as it was stored.
 */
export async function fetchRemoteFile(
  remote: RemoteFolder,
  file: RemoteFile,
  dest: string,
  mode: number,
  meter: ProgressMeter,
  options: FetchOptions = {},
): Promise<FetchedFile> {
  const { signal } = options;
  let resumedFrom = -1;
  for (let resumes = 0; ; resumes++) {
    throwIfCancelled(signal);
    const before = meter.bytesDone;
    const have = await provenPrefix(remote, file, dest, mode, options);
    if (resumedFrom < 0) resumedFrom = have;
    meter.add(have);
    try {
      await receive(remote, file, dest, have, meter, options);
      return { resumedFrom, resumes };
    } catch (error) {
      throwIfCancelled(signal);
      if (!isDroppedConnection(error) || resumes >= RESUMES) throw error;
      // what arrived before the drop stays: the next round proves it and continues after it
      meter.set(before);
    }
  }
}

/** How much of `dest` to keep: its length when proved equal to the remote file's start, else 0 (emptied). */
async function provenPrefix(
  remote: RemoteFolder,
  file: RemoteFile,
  dest: string,
  mode: number,
  options: FetchOptions,
): Promise<number> {
  const size = (await fsp.stat(dest).catch(() => null))?.size ?? 0;
  if (size > 0 && size <= file.size) {
    const [local, far] = await Promise.all([
      hashPrefix(dest, size, options.signal),
      remoteSha256(remote, file, { ...options, length: size }),
    ]);
    if (far !== null && far === local) return size;
  }
  // nothing to keep: an empty file, owner-only from its first byte
  const handle = await fsp.open(dest, 'w', mode & 0o600);
  await handle.close();
  return 0;
}

async function hashPrefix(path: string, length: number, signal: AbortSignal | undefined): Promise<string> {
  const hash = createHash('sha256');
  const handle = await fsp.open(path, 'r');
  try {
    const buffer = Buffer.allocUnsafe(READ_SIZE);
    let at = 0;
    while (at < length) {
      throwIfCancelled(signal);
      const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, length - at), at);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
      at += bytesRead;
    }
  } finally {
    await handle.close();
  }
  return hash.digest('hex');
}

/**
 * Appends the remote file from byte `from` to `dest` (which holds exactly `from` bytes): ssh's stdout is the file
 * itself, opened for appending. A file that grew or shrank since it was listed is refused (it is being written).
 */
async function receive(
  remote: RemoteFolder,
  file: RemoteFile,
  dest: string,
  from: number,
  meter: ProgressMeter,
  options: FetchOptions,
): Promise<void> {
  const word = remoteFileWord(remote, file.path);
  const out = await fsp.open(dest, 'a');
  let received = from;
  let timer: NodeJS.Timeout | undefined;
  let result: { code: number | null; stderr: string };
  try {
    const { exit } = startRemote(remote, `tail -c +${from + 1} -- ${word}`, {
      ...options,
      stdout: out.fd,
    });
    const poll = async (): Promise<void> => {
      const size = (await out.stat()).size;
      meter.add(size - received);
      received = size;
    };
    timer = setInterval(() => void poll().catch(() => undefined), PROGRESS_MS);
    result = await exit;
    clearInterval(timer);
    await poll();
    await out.sync();
  } catch (error) {
    throwIfCancelled(options.signal);
    const e = toAtlasError(error, `Writing ${dest}`);
    if ((e.cause as NodeJS.ErrnoException | undefined)?.code === 'ENOSPC') {
      throw new AtlasError('VAULT_FULL', `The destination disk filled up while ${file.path} was copied.`);
    }
    throw e;
  } finally {
    clearInterval(timer);
    await out.close();
  }
  throwIfCancelled(options.signal);
  const { code, stderr } = result;
  if (received > file.size || (code === 0 && received < file.size)) {
    throw new AtlasError(
      'CHECKSUM_MISMATCH',
      `${file.path} on ${remote.host} changed while it was being copied (it is now ${received > file.size ? 'longer' : 'shorter'} than the ${file.size} bytes listed): it was not archived. Copy it again once it is finished.`,
      { file: file.path, position: received },
    );
  }
  if (code === 0) return;
  if (code === null || code === 255) throw sshFailure(remote, stderr);
  if (/No space left/i.test(stderr)) {
    throw new AtlasError('VAULT_FULL', `The destination disk filled up while ${file.path} was copied.`);
  }
  throw remoteReadError(remote, file, stderr, code, received);
}

function remoteReadError(
  remote: RemoteFolder,
  file: RemoteFile,
  stderr: string,
  code: number | null,
  position?: number,
): AtlasError {
  const said = stderr.trim().split('\n').at(-1) ?? '';
  if (/No such file|not found/i.test(said)) {
    return new AtlasError(
      'REMOTE_NOT_FOUND',
      `${file.path} is no longer in ${remote.path} on ${remote.host}: it was moved or deleted after the folder was listed.`,
      { file: file.path },
    );
  }
  const at = position !== undefined ? ` at byte ${position}` : '';
  return new AtlasError(
    'REMOTE_READ_ERROR',
    `${remote.host} could not read ${file.path}${at}${said ? ` (${said})` : ` (exit ${code})`}.`,
    { file: file.path, ...(position !== undefined ? { position } : {}) },
  );
}
