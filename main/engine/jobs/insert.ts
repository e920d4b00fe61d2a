/**
 * Phase 0 — Insert: base Armbian image + atlas_firstboot.sh, atlas-firstboot.service, atlas_secrets.conf →
 * ods-atlas-golden-vN-P-TAG.img with a sidecar manifest. The files go straight into the image's ext4 through
 * libext2fs, so it works the same on a Mac and on Linux, with no mounting and no root.
 *
 * Order: every input is checked before anything is written; the base is copied (reflink when the filesystem
 * offers one) or decompressed to `*.img.partial`; files are injected, then read back from a fresh session and
 * compared; the manifest is written; both are renamed into place at the very end. The base is only ever read.
 */
import { constants, createReadStream, promises as fsp, type Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import { basename, dirname, join, posix, resolve } from 'node:path';
import { AtlasError, throwIfCancelled, toAtlasError } from '../errors';
import { ProgressMeter, type JobControl, type JobStage, type ProgressListener } from '../progress';
import { VERSION } from '../version';
import { checkGoldenNumber, checkTag } from '../names';
import { goldenName } from '../../shared/names';
import { openImageSource, type ImageSource, type SourceFormat } from '../compress/source';
import { sha256File } from '../io/hash';
import { freeSpace } from '../io/free-space';
import { syncDir, syncFile } from '../io/durable';
import { formatBytes } from '../format';
import {
  applyCapturedWrites,
  captureExt4Writes,
  withExt4,
  type CapturedWrite,
  type Ext4Op,
} from '../fs/ext4-inject';
import { recogniseArmbianBase, type ArmbianInspection } from '../library/armbian';
import { loadProfile, resolveProfile, type InsertProfile } from '../library/profile';
import { cachedSha256 } from '../library/hash-cache';
import { execCommand, parseUnitFile, unitValues, wantedBy } from '../library/systemd-unit';

export interface InsertOptions {
  /** base Armbian image: .img, .img.xz, .img.gz, .img.zst or .zip */
  base: string;
  /** atlas_firstboot.sh */
  firstboot: string;
  /** atlas-firstboot.service */
  service: string;
  /** atlas_secrets.conf */
  secrets: string;
  /** ods-atlas-golden-vVERSION-PATCH-TAG: whole numbers and a tag, by the rules of main/shared/names */
  version: number;
  patch: number;
  tag: string;
  /** output folder; default the profile's buildDir (~/atlas-build) */
  outDir?: string;
  /** replace an existing output of the same name */
  force?: boolean;
  /** a profile object, or the path of a JSON profile file; default the built-in destinations */
  profile?: InsertProfile | string;
  /** the creation time written into golden-release and the manifest (tests); default now */
  now?: Date;
  /**
   * where base-image hashes are remembered (see library/hash-cache), so a second insert from the same base
   * does not hash it again; default `<outDir>/.atlas-cache`; false to always hash
   */
  hashCacheDir?: string | false;
}

export type InsertFileRole = 'firstboot' | 'service' | 'enable' | 'secrets' | 'golden-release';

export interface ManifestFile {
  role: InsertFileRole;
  destination: string;
  type: 'file' | 'symlink';
  /** octal text, e.g. '0755' */
  mode: string;
  uid: number;
  gid: number;
  /** files only; the secrets are in the manifest by this hash only */
  sha256?: string;
  size?: number;
  /** the file it was read from (not for the secrets, nor for generated files) */
  source?: string;
  /** symlinks only */
  target?: string;
}

export interface GoldenManifest {
  kind: 'ods-atlas-golden';
  phase: 0;
  name: string;
  image: string;
  version: number;
  patch: number;
  tag: string;
  base: {
    name: string;
    /** sha256 of the base file as given (the .img.xz when compressed): compare with Armbian's .sha */
    sha256: string;
    format: SourceFormat;
    /** sha256 of the uncompressed image, when the base was compressed */
    imageSha256?: string;
    size: number;
    armbian: {
      version: string;
      board: string;
      boardFamily: string;
      release: string | null;
      branch: string | null;
      kernel: string | null;
      variant: string | null;
    };
  };
  rootPartition: { number: number; offset: number; size: number; uuid: string; label: string };
  files: ManifestFile[];
  created: string;
  tool: { name: 'atlas-imager'; version: string };
}

export interface InsertResult {
  output: string;
  manifestPath: string;
  manifest: GoldenManifest;
  base: ArmbianInspection;
  /** things a person should hear about (the CLI prints them); never secret content */
  warnings: string[];
  copyMethod: 'reflink' | 'copy' | 'decompress';
  timings: { prepareMs: number; injectMs: number; verifyMs: number; totalMs: number };
}

export interface InputFile {
  path: string;
  data: Buffer;
  mode: number;
}

export async function readInput(label: string, path: string, signal?: AbortSignal): Promise<InputFile> {
  throwIfCancelled(signal);
  let st;
  try {
    st = await fsp.stat(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new AtlasError(
        'NOT_FOUND',
        `The ${label} ${path} does not exist. Check the path and try again.`,
        {
          input: label,
        },
      );
    }
    throw toAtlasError(error, `Cannot read the ${label}`);
  }
  if (!st.isFile()) throw new AtlasError('INVALID_ARGUMENT', `The ${label} ${path} is not a regular file.`);
  if (st.size === 0) {
    throw new AtlasError('INVALID_ARGUMENT', `The ${label} ${path} is empty. Give the real file.`, {
      input: label,
    });
  }
  const data = await fsp.readFile(path).catch((error: unknown) => {
    throw toAtlasError(error, `Cannot read the ${label}`);
  });
  return { path, data, mode: st.mode & 0o7777 };
}

export function checkFirstboot(script: InputFile): void {
  const firstLine = script.data
    .subarray(0, Math.min(script.data.length, 256))
    .toString('latin1')
    .split('\n')[0]!;
  if (!firstLine.startsWith('#!')) {
    throw new AtlasError(
      'INVALID_ARGUMENT',
      `The firstboot script ${script.path} has no shebang: its first line must name the interpreter, e.g. #!/bin/bash.`,
    );
  }
  if (firstLine.endsWith('\r')) {
    throw new AtlasError(
      'INVALID_ARGUMENT',
      `The firstboot script ${script.path} has Windows line endings (CRLF); the kernel cannot run it. Convert it with dos2unix.`,
    );
  }
}

/** Checks the unit and returns the units whose .wants folder enables it. */
export function checkService(service: InputFile, scriptDestination: string): string[] {
  const unit = parseUnitFile(service.data.toString('utf8'));
  const hint = `It must be a systemd service whose ExecStart= runs ${scriptDestination}.`;
  if (!unit.sections.has('Service')) {
    throw new AtlasError('INVALID_ARGUMENT', `The unit ${service.path} has no [Service] section. ${hint}`);
  }
  const commands = unitValues(unit, 'Service', 'ExecStart').map(execCommand);
  if (!commands.some((words) => words.includes(scriptDestination))) {
    const found = commands.map((w) => w[0]).filter(Boolean);
    throw new AtlasError(
      'INVALID_ARGUMENT',
      `The unit ${service.path} does not run the injected script: ${found.length ? `ExecStart= runs ${found.join(', ')}` : 'it has no ExecStart='}. ${hint}`,
    );
  }
  const targets = wantedBy(unit);
  if (targets.length === 0) {
    throw new AtlasError(
      'INVALID_ARGUMENT',
      `The unit ${service.path} has no WantedBy= in an [Install] section, so it cannot be enabled. Add:\n[Install]\nWantedBy=multi-user.target`,
    );
  }
  for (const t of targets) {
    if (t.includes('/') || !/^[A-Za-z0-9:_.@-]+\.(target|service)$/.test(t)) {
      throw new AtlasError(
        'INVALID_ARGUMENT',
        `The unit ${service.path} has WantedBy=${t}, which is not a unit name.`,
      );
    }
  }
  return [...new Set(targets)];
}

function shellQuote(value: string): string {
  return /^[A-Za-z0-9._:+@/-]*$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

function goldenReleaseText(fields: Record<string, string>): Buffer {
  const lines = ['# Written by Atlas Imager at Phase 0 (Insert). Later phases read it; do not edit.'];
  for (const [key, value] of Object.entries(fields)) lines.push(`${key}=${shellQuote(value)}`);
  return Buffer.from(`${lines.join('\n')}\n`, 'utf8');
}

const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');
const octal = (mode: number): string => mode.toString(8).padStart(4, '0');

async function removeQuietly(path: string): Promise<void> {
  await fsp.rm(path, { force: true }).catch(() => undefined);
}

/** Blocks a compressed base is decompressed in (written before the next is taken). */
const DECOMPRESS_BLOCK = 4 * 1024 * 1024;

/** Hole granularity of the copy: small enough to keep a base's holes, large enough to keep writes few. */
const SPARSE_BLOCK = 64 * 1024;
const ZERO = Buffer.alloc(SPARSE_BLOCK);

async function writeAll(out: FileHandle, data: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const { bytesWritten } = await out.write(data, done, data.length - done, position + done);
    done += bytesWritten;
  }
}

/**
 * Writes a stream of image bytes into `out`, hashing them, and leaving all-zero blocks as holes: images are
 * mostly empty space, and a sparse output is both faster to write and what `cp` makes of a sparse base.
 */
async function writeSparse(
  stream: AsyncIterable<Buffer>,
  out: FileHandle,
  meter: ProgressMeter,
  signal?: AbortSignal,
): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash('sha256');
  let position = 0;
  for await (const chunk of stream) {
    throwIfCancelled(signal);
    hash.update(chunk);
    // runs of blocks holding data, written one run at a time
    let runStart = -1;
    for (let at = 0; at <= chunk.length; at += SPARSE_BLOCK) {
      const block = chunk.subarray(at, Math.min(chunk.length, at + SPARSE_BLOCK));
      const hasData = block.length > 0 && !block.equals(ZERO.subarray(0, block.length));
      if (hasData && runStart < 0) runStart = at;
      if (!hasData && runStart >= 0) {
        await writeAll(out, chunk.subarray(runStart, at), position + runStart);
        runStart = -1;
      }
    }
    if (runStart >= 0) await writeAll(out, chunk.subarray(runStart), position + runStart);
    position += chunk.length;
    meter.set(position);
  }
  await out.truncate(position);
  return { bytes: position, sha256: hash.digest('hex') };
}

async function openPartial(path: string, force: boolean): Promise<FileHandle> {
  try {
    return await fsp.open(path, 'wx', 0o644);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST')
      throw toAtlasError(error, 'Cannot create the output');
    if (!force) {
      throw new AtlasError(
        'ALREADY_EXISTS',
        `${path} exists: another insert is writing it, or an earlier one was interrupted. Delete it (or pass --force) and try again.`,
      );
    }
    await fsp.rm(path, { force: true });
    return fsp.open(path, 'wx', 0o644);
  }
}

/**
 * Copies with GNU cp (`--sparse=auto --reflink=auto`): holes stay holes and a CoW filesystem clones. False
 * when there is no such cp (the caller copies in-process); CANCELLED kills it.
 */
function copyWithCp(from: string, to: string, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn('cp', ['--sparse=auto', '--reflink=auto', '--', from, to], {
      stdio: ['ignore', 'ignore', 'pipe'],
      ...(signal ? { signal } : {}),
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ABORT_ERR') reject(new AtlasError('CANCELLED', 'The operation was cancelled.'));
      else resolvePromise(false);
    });
    child.on('close', (code) => {
      if (code === 0) resolvePromise(true);
      else if (/unrecognized option|illegal option|invalid option/i.test(stderr)) resolvePromise(false);
      else if (/No space left/i.test(stderr)) {
        reject(new AtlasError('TARGET_TOO_SMALL', `No space left in ${dirname(to)} for a copy of ${from}.`));
      } else
        reject(new AtlasError('IO_ERROR', `Copying ${from} failed: ${stderr.trim() || `cp exited ${code}`}`));
    });
  });
}

/**
 * Tries a copy-on-write clone (APFS, btrfs, XFS) over the partial we already own; false when the filesystem
 * cannot, so the caller copies.
 */
async function tryReflink(from: string, to: string): Promise<boolean> {
  try {
    await fsp.copyFile(from, to, constants.COPYFILE_FICLONE_FORCE);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC' || code === 'ENOENT' || code === 'EACCES' || code === 'EPERM') throw error;
    return false;
  }
}

/** Where an insert into `outDir` remembers its bases' hashes (see library/hash-cache). */
export function hashCacheDirOf(outDir: string): string {
  return join(outDir, '.atlas-cache');
}

/**
 * Hashes a base image into the hash cache of the build folder `outDir` ahead of an insert: the app starts it as
 * soon as a base is chosen, while the person picks the other files, so the insert finds the hash ready (or
 * joins this one) instead of hashing 2 GiB itself.
 */
export async function prehashBase(base: string, outDir: string, signal?: AbortSignal): Promise<string> {
  const path = resolve(base);
  const { sha256 } = await cachedSha256(path, hashCacheDirOf(resolve(outDir)), () =>
    sha256File(path, signal ? { signal } : {}),
  );
  return sha256;
}

export async function insertJob(options: InsertOptions, control: JobControl = {}): Promise<InsertResult> {
  const { signal, onProgress } = control;
  const started = performance.now();
  const warnings: string[] = [];

  // ---- 1. every input, before anything is written
  const version = checkGoldenNumber(options.version, 'version N');
  const patch = checkGoldenNumber(options.patch, 'patch P');
  const tag = checkTag(options.tag);
  const profile =
    typeof options.profile === 'string'
      ? await loadProfile(options.profile)
      : options.profile
        ? resolveProfile(options.profile)
        : await loadProfile();
  const dest = profile.destinations;
  const basePath = resolve(options.base);
  const baseStat = await fsp.stat(basePath).catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new AtlasError(
        'NOT_FOUND',
        `The base image ${basePath} does not exist. Check the path and try again.`,
        {
          input: 'base image',
        },
      );
    }
    throw toAtlasError(error, 'Cannot read the base image');
  });
  if (!baseStat.isFile())
    throw new AtlasError('INVALID_ARGUMENT', `The base image ${basePath} is not a regular file.`);
  if (baseStat.size === 0) {
    throw new AtlasError('INVALID_ARGUMENT', `The base image ${basePath} is empty. Download it again.`, {
      input: 'base image',
    });
  }
  const script = await readInput('firstboot script', resolve(options.firstboot), signal);
  const service = await readInput('service unit', resolve(options.service), signal);
  const secrets = await readInput('secrets file', resolve(options.secrets), signal);
  checkFirstboot(script);
  const targets = checkService(service, dest.firstboot);
  if ((secrets.mode & 0o044) !== 0) {
    warnings.push(
      `The secrets file ${secrets.path} is readable by ${secrets.mode & 0o040 ? 'its group' : ''}${
        (secrets.mode & 0o044) === 0o044 ? ' and ' : ''
      }${secrets.mode & 0o004 ? 'others' : ''} (mode ${octal(secrets.mode)}). Run: chmod 600 ${secrets.path}`,
    );
  }

  const outDir = resolve(options.outDir ?? profile.buildDir);
  const name = goldenName(version, patch, tag);
  const output = join(outDir, `${name}.img`);
  const manifestPath = join(outDir, `${name}.manifest.json`);
  const partial = `${output}.partial`;
  const manifestPartial = `${manifestPath}.partial`;
  if (output === basePath) {
    throw new AtlasError(
      'SOURCE_IS_TARGET',
      `The output ${output} is the base image itself. Choose another folder.`,
    );
  }
  for (const path of [output, manifestPath]) {
    const exists = await fsp.lstat(path).then(
      () => true,
      () => false,
    );
    if (exists && !options.force) {
      throw new AtlasError(
        'ALREADY_EXISTS',
        `${path} already exists. Choose another version or tag, or pass --force to replace it.`,
        { path },
      );
    }
  }
  const source: ImageSource = await openImageSource(basePath, { signal });
  const baseName = basename(basePath);

  const cacheDir = options.hashCacheDir === false ? null : (options.hashCacheDir ?? hashCacheDirOf(outDir));
  // the hash has its own abort, so a refusal or a failure never leaves it reading in the background
  const hashControl = new AbortController();
  const hashSignal = signal ? AbortSignal.any([signal, hashControl.signal]) : hashControl.signal;
  // The base's hash runs beside the copy and the injection; only the manifest waits for it. Its progress
  // stands for the copy's (GNU cp reports none), is hidden while other stages report, and shows as 'hashing'
  // when the manifest is all that is left to wait for.
  const hashView: { stage: JobStage; visible: boolean } = { stage: 'copying', visible: true };
  const hashProgress: ProgressListener = (p) => {
    if (hashView.visible) onProgress?.({ ...p, stage: hashView.stage });
  };
  // the base's hash once started; the manifest awaits it, and the finally below stops and awaits it always
  let baseHash: Promise<string> | null = null;
  const startBaseHash = (shown: boolean): void => {
    const compute = (): Promise<string> =>
      sha256File(basePath, shown ? { signal: hashSignal, onProgress: hashProgress } : { signal: hashSignal });
    const hashing = cacheDir ? cachedSha256(basePath, cacheDir, compute).then((r) => r.sha256) : compute();
    hashing.catch(() => undefined); // awaited later: a failure meanwhile is not unhandled
    baseHash = hashing;
  };
  try {
    return await insertAfterChecks();
  } catch (error) {
    throwIfCancelled(signal);
    throw error;
  } finally {
    hashControl.abort();
    // assigned inside insertAfterChecks, which TypeScript's narrowing of the `null` above does not see
    await (baseHash as Promise<string> | null)?.catch(() => undefined);
  }

  async function insertAfterChecks(): Promise<InsertResult> {
    // a raw base is recognised in place (read-only). With GNU cp (Linux) the copy and the base's hash start
    // first and the recognition runs beside them, as it is mostly waiting on a worker; a refused base then
    // only costs a partial copy, which is removed. Elsewhere (a reflink: no time to win) it comes first.
    let inspection: ArmbianInspection | null = null;
    new ProgressMeter('checking', null, onProgress, { detail: baseName });
    const copyBeside = source.format === 'raw' && process.platform === 'linux';
    const recognise = (path: string): Promise<ArmbianInspection> =>
      recogniseArmbianBase(path, { name: baseName, destinations: dest, signal });
    if (source.format === 'raw' && !copyBeside) inspection = await recognise(basePath);
    await fsp.mkdir(outDir, { recursive: true }).catch((error: unknown) => {
      throw toAtlasError(error, `Cannot create the output folder ${outDir}`);
    });
    if (source.format === 'raw') await checkRoomForCopy(outDir, baseStat);

    /** What goes into the image, for a recognised base: the files, the enabling links, and the ops. */
    const planInjection = (base: ArmbianInspection) => {
      const created = (options.now ?? new Date()).toISOString().replace(/\.\d{3}Z$/, 'Z');
      const unitName = posix.basename(dest.service);
      const releaseData = goldenReleaseText({
        ATLAS_PHASE: '0',
        GOLDEN_NAME: name,
        GOLDEN_VERSION: String(version),
        GOLDEN_PATCH: String(patch),
        GOLDEN_TAG: tag,
        // the base's hash is in the manifest only: the files go in without waiting for it
        BASE_IMAGE: baseName,
        ARMBIAN_VERSION: base.version,
        CREATED: created,
        ATLAS_IMAGER_VERSION: VERSION,
      });
      const files: Array<{
        role: InsertFileRole;
        destination: string;
        data: Buffer;
        mode: number;
        source?: string;
      }> = [
        {
          role: 'firstboot',
          destination: dest.firstboot,
          data: script.data,
          mode: 0o755,
          source: basename(script.path),
        },
        {
          role: 'service',
          destination: dest.service,
          data: service.data,
          mode: 0o644,
          source: basename(service.path),
        },
        { role: 'secrets', destination: dest.secrets, data: secrets.data, mode: 0o600 },
        { role: 'golden-release', destination: dest.goldenRelease, data: releaseData, mode: 0o644 },
      ];
      const links = targets.map((t) => ({
        destination: `/etc/systemd/system/${t}.wants/${unitName}`,
        target: dest.service,
      }));
      const ops: Ext4Op[] = [];
      const dirs = new Set([
        ...files.map((f) => posix.dirname(f.destination)),
        ...links.map((l) => posix.dirname(l.destination)),
      ]);
      for (const dir of dirs) ops.push({ op: 'mkdirp', path: dir, mode: 0o755, uid: 0, gid: 0 });
      for (const f of files) {
        ops.push({ op: 'writeFile', path: f.destination, data: f.data, mode: f.mode, uid: 0, gid: 0 });
      }
      for (const l of links)
        ops.push({ op: 'symlink', path: l.destination, target: l.target, replace: true, uid: 0, gid: 0 });
      const injectBytes = files.reduce((n, f) => n + f.data.length, 0);
      return { created, files, links, ops, injectBytes };
    };

    // ---- 2. the copy, to *.partial
    let copyMethod: InsertResult['copyMethod'] = 'copy';
    let imageSha256: string | undefined;
    let imageSize = 0;
    let plan: ReturnType<typeof planInjection> | null = null;
    // raw base copied by cp: the files are injected into a copy-on-write view of the base meanwhile
    let captured: { writes: CapturedWrite[]; ms: number } | null = null;
    // claiming the partial's name first means a second insert of the same name is refused, not interleaved
    const out = await openPartial(partial, options.force === true);
    let cleanup = true;
    try {
      let copied = false;
      if (source.format === 'raw') {
        await out.close();
        if (copyBeside) {
          // GNU cp copies only the base's data extents (SEEK_DATA) in the kernel, or reflinks; the hash, the
          // recognition and the injection (its writes kept in memory) read the same base alongside
          const copyControl = new AbortController();
          const copying = copyWithCp(
            basePath,
            partial,
            signal ? AbortSignal.any([signal, copyControl.signal]) : copyControl.signal,
          );
          copying.catch(() => undefined);
          startBaseHash(true);
          try {
            inspection = await recognise(basePath);
            plan = planInjection(inspection);
            const captureStart = performance.now();
            const { writes } = await captureExt4Writes(
              basePath,
              { offset: inspection.root.offset, signal },
              (ext4) => ext4.run(plan!.ops),
            );
            captured = { writes, ms: performance.now() - captureStart };
          } catch (error) {
            copyControl.abort();
            throw error;
          } finally {
            await copying.catch(() => undefined);
          }
          if (await copying) {
            copied = true;
            copyMethod = 'copy';
            imageSize = baseStat.size;
          }
        }
      }
      if (!copied && source.format === 'raw' && (await tryReflink(basePath, partial))) {
        copyMethod = 'reflink';
        imageSize = baseStat.size;
        hashView.stage = 'hashing';
        if (!baseHash) startBaseHash(true);
      } else if (!copied && source.format === 'raw') {
        // one pass: read, hash, and write only the blocks that hold data (the base's holes stay holes)
        copyMethod = 'copy';
        const target = await fsp.open(partial, 'w', 0o644);
        try {
          const meter = new ProgressMeter('copying', baseStat.size, onProgress, { detail: baseName });
          const stream = createReadStream(basePath, { highWaterMark: 4 << 20, signal });
          const written = await writeSparse(stream, target, meter, signal);
          baseHash ??= Promise.resolve(written.sha256);
          imageSize = written.bytes;
          meter.finish();
        } finally {
          await target.close();
        }
      } else if (!copied) {
        copyMethod = 'decompress';
        try {
          const meter = new ProgressMeter('decompressing', source.size ?? source.estimate, onProgress, {
            detail: baseName,
          });
          // the compressed file's own hash (what Armbian's .sha lists), read alongside the decompression
          startBaseHash(false);
          // in whole blocks: a decoder tool's output comes through a worker, not as 8 KiB stream chunks
          const pool = [0, 1].map(() => Buffer.from(new SharedArrayBuffer(DECOMPRESS_BLOCK)));
          const chunks = async function* (): AsyncGenerator<Buffer> {
            for await (const block of source.readBlocks(pool, { signal })) {
              yield block.buffer.subarray(0, block.length);
            }
          };
          const written = await writeSparse(chunks(), out, meter, signal);
          imageSha256 = written.sha256;
          imageSize = written.bytes;
          meter.finish();
        } finally {
          await out.close();
        }
      }
      throwIfCancelled(signal);
      // the copy's data goes to the disk while the files are injected and read back (measured: the sync was
      // 1.1 s of a 1.9 s insert from a 2 GiB base when it came after them); one more sync at the end catches
      // the injected blocks
      const flushing = syncFile(partial);
      flushing.catch(() => undefined);
      inspection ??= await recognise(partial);
      const base = inspection;
      const prepareMs = performance.now() - started;

      // ---- 3. inject (or apply the writes captured during the copy: every raw copy is byte for byte the base)
      const { created, files, links, ops, injectBytes } = (plan ??= planInjection(base));
      hashView.visible = false;
      const injectStart = performance.now();
      const injectMeter = new ProgressMeter('injecting', injectBytes, onProgress);
      if (captured) await applyCapturedWrites(partial, captured.writes);
      else {
        await withExt4(partial, { offset: base.root.offset, write: true, sync: false, signal }, (ext4) =>
          ext4.run(ops),
        );
      }
      injectMeter.finish();
      const injectMs = (captured?.ms ?? 0) + performance.now() - injectStart;

      // ---- 4. read everything back from a fresh, read-only session and compare
      const verifyStart = performance.now();
      const verifyMeter = new ProgressMeter('verifying', injectBytes, onProgress);
      const checks: Ext4Op[] = [
        ...files.flatMap((f): Ext4Op[] => [
          { op: 'readFile', path: f.destination },
          { op: 'stat', path: f.destination },
        ]),
        ...links.flatMap((l): Ext4Op[] => [
          { op: 'readlink', path: l.destination },
          { op: 'stat', path: l.destination },
        ]),
      ];
      const results = await withExt4(partial, { offset: base.root.offset, signal }, (ext4) =>
        ext4.run(checks),
      );
      const mismatch = (what: string): AtlasError =>
        new AtlasError(
          'VERIFY_MISMATCH',
          `Read-back of ${what} in ${partial} does not match what was written.`,
          {
            path: what,
          },
        );
      files.forEach((f, i) => {
        const data = results[2 * i] as Uint8Array;
        const st = results[2 * i + 1] as { type: string; mode: number; uid: number; gid: number } | null;
        if (!Buffer.from(data).equals(f.data)) throw mismatch(f.destination);
        if (!st || st.type !== 'file' || st.mode !== f.mode || st.uid !== 0 || st.gid !== 0) {
          throw mismatch(`${f.destination} (mode or owner)`);
        }
      });
      links.forEach((l, i) => {
        const at = 2 * files.length + 2 * i;
        const st = results[at + 1] as { type: string } | null;
        if (results[at] !== l.target || st?.type !== 'symlink') throw mismatch(l.destination);
      });
      await flushing;
      await syncFile(partial);
      verifyMeter.finish();
      const verifyMs = performance.now() - verifyStart;

      // ---- 5. the base's hash (usually done by now), the manifest, then both into place
      hashView.stage = 'hashing';
      hashView.visible = true;
      if (!baseHash) throw new AtlasError('INTERNAL', 'The base image was not hashed.');
      const baseSha256 = await baseHash;
      const manifest: GoldenManifest = {
        kind: 'ods-atlas-golden',
        phase: 0,
        name,
        image: basename(output),
        version,
        patch,
        tag,
        base: {
          name: baseName,
          sha256: baseSha256,
          format: source.format,
          ...(imageSha256 ? { imageSha256 } : {}),
          size: imageSize,
          armbian: {
            version: base.version,
            board: base.board,
            boardFamily: base.boardFamily,
            release: base.release,
            branch: base.branch,
            kernel: base.kernel,
            variant: base.variant,
          },
        },
        rootPartition: {
          number: base.root.number,
          offset: base.root.offset,
          size: base.root.size,
          uuid: base.root.uuid,
          label: base.root.label,
        },
        files: [
          ...files.map((f): ManifestFile => ({
            role: f.role,
            destination: f.destination,
            type: 'file',
            mode: octal(f.mode),
            uid: 0,
            gid: 0,
            sha256: sha256(f.data),
            // the secrets are in the manifest by their hash only: not even their size or file name
            ...(f.role === 'secrets'
              ? {}
              : { size: f.data.length, ...(f.source ? { source: f.source } : {}) }),
          })),
          ...links.map((l): ManifestFile => ({
            role: 'enable',
            destination: l.destination,
            type: 'symlink',
            mode: '0777',
            uid: 0,
            gid: 0,
            target: l.target,
          })),
        ],
        created,
        tool: { name: 'atlas-imager', version: VERSION },
      };
      throwIfCancelled(signal);
      const manifestHandle = await openPartial(manifestPartial, true);
      try {
        await manifestHandle.writeFile(`${JSON.stringify(manifest, null, 2)}\n`);
        await manifestHandle.sync();
      } finally {
        await manifestHandle.close();
      }
      await fsp.rename(partial, output);
      await fsp.rename(manifestPartial, manifestPath);
      cleanup = false;
      await syncDir(outDir);
      return {
        output,
        manifestPath,
        manifest,
        base,
        warnings,
        copyMethod,
        timings: { prepareMs, injectMs, verifyMs, totalMs: performance.now() - started },
      };
    } catch (error) {
      throwIfCancelled(signal);
      throw toAtlasError(error, 'Insert failed');
    } finally {
      if (cleanup) {
        await removeQuietly(partial);
        await removeQuietly(manifestPartial);
      }
    }
  }
}

/**
 * Refuses before copying when the output folder cannot hold a copy of a raw base (its allocated bytes: holes
 * stay holes). Only told in advance when the folder is on another filesystem than the base: on the same one a
 * reflink may need no space at all. A compressed base's size on disk is known only once written; running
 * out then fails the same way (TARGET_TOO_SMALL), and the partial is removed.
 */
async function checkRoomForCopy(outDir: string, baseStat: Stats): Promise<void> {
  const outStat = await fsp.stat(outDir);
  if (outStat.dev === baseStat.dev) return;
  const need = baseStat.blocks * 512 + ROOM_MARGIN;
  const free = await freeSpace(outDir).catch(() => Infinity);
  if (free < need) {
    throw new AtlasError(
      'TARGET_TOO_SMALL',
      `Not enough space in ${outDir} for the golden image: it needs about ${formatBytes(need)}, ` +
        `${formatBytes(free)} is free. Free some space or choose another output folder (--out).`,
      { outDir, need, free },
    );
  }
}

/** Room for the manifest, the injected files and the filesystem's own bookkeeping. */
const ROOM_MARGIN = 16 * 1024 * 1024;
