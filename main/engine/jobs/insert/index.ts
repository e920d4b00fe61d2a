/**
 * Phase 0 — Insert: base Armbian image + atlas_firstboot.sh, atlas-firstboot.service, atlas_secrets.conf →
 * ods-atlas-golden-vN-P-TAG.img with a sidecar manifest. The files go straight into the image's ext4 through
 * libext2fs, so it works the same on a Mac and on Linux, with no mounting and no root.
 *
 * The steps, in order, one file each: every input is checked before anything is written (inputs.ts); the base
 * is cloned, copied or decompressed to `*.img.partial` (copy.ts); the files are injected, then read back from a
 * fresh session and compared (plan.ts); the manifest is written (manifest.ts); both are renamed into place at the
 * very end. The base is only ever read. This file runs the steps and overlaps what can overlap: the base's hash
 * (base-hash.ts) runs throughout, and on Linux the injection is prepared while GNU cp copies.
 */
import { promises as fsp } from 'node:fs';
import { throwIfCancelled, toAtlasError } from '../../errors';
import { ProgressMeter, type JobControl } from '../../progress';
import { openImageSource, type ImageSource } from '../../compress/source';
import { syncDir, syncFile } from '../../io/durable';
import { applyCapturedWrites, captureExt4Writes, withExt4, type CapturedWrite } from '../../fs/ext4-inject';
import { recogniseArmbianBase, type ArmbianInspection } from './armbian';
import { checkInputs, type CheckedInputs, type InsertInputs } from './inputs';
import {
  checkRoomForCopy,
  claimPartial,
  cloneOver,
  copyInProcess,
  copyWithCp,
  decompressInto,
  GOLDEN_IMAGE_MODE,
} from './copy';
import { planInjection, readBack, type InjectionPlan } from './plan';
import { buildManifest, secretsKey, type GoldenManifest } from './manifest';
import { BaseHash, hashCacheDirOf } from './base-hash';

export { checkFirstboot, checkService, readInput, type InputFile, type InsertInputs } from './inputs';
export { GOLDEN_IMAGE_MODE } from './copy';
export type { InsertFileRole } from './plan';
export { SECRETS_KEY_FILE, type GoldenManifest, type ManifestFile } from './manifest';
export { hashCacheDirOf, prehashBase } from './base-hash';

export interface InsertOptions extends InsertInputs {
  /** the creation time written into golden-release and the manifest (tests); default now */
  now?: Date;
  /**
   * where base-image hashes are remembered (see hash-cache.ts), so a second insert from the same base does not
   * hash it again; default `<outDir>/.atlas-cache`; false to always hash
   */
  hashCacheDir?: string | false;
  /** whose copy to use: GNU cp beside the injection on Linux, a clone first elsewhere (tests run both) */
  platform?: NodeJS.Platform;
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

/** One insert once its inputs are checked: what every step reads. */
interface Job {
  options: InsertOptions;
  inputs: CheckedInputs;
  source: ImageSource;
  hash: BaseHash;
  control: JobControl;
  started: number;
  recognise(path: string): Promise<ArmbianInspection>;
}

export async function insertJob(options: InsertOptions, control: JobControl = {}): Promise<InsertResult> {
  const { signal, onProgress } = control;
  const started = performance.now();
  // ---- 1. every input, before anything is written
  const inputs = await checkInputs(options, signal);
  const source = await openImageSource(inputs.basePath, signal ? { signal } : {});
  const cacheDir =
    options.hashCacheDir === false ? null : (options.hashCacheDir ?? hashCacheDirOf(inputs.outDir));
  const hash = new BaseHash(inputs.basePath, cacheDir, signal, onProgress);
  const recognise = (path: string): Promise<ArmbianInspection> =>
    recogniseArmbianBase(path, {
      name: inputs.baseName,
      destinations: inputs.destinations,
      ...(signal ? { signal } : {}),
    });
  try {
    return await insertChecked({ options, inputs, source, hash, control, started, recognise });
  } catch (error) {
    throwIfCancelled(signal);
    throw error;
  } finally {
    await hash.stop();
  }
}

async function insertChecked(job: Job): Promise<InsertResult> {
  const { options, inputs, source, hash, recognise } = job;
  const { signal, onProgress } = job.control;
  const { basePath, baseName, outDir, output, manifestPath } = inputs;
  const partial = `${output}.partial`;
  const manifestPartial = `${manifestPath}.partial`;
  const raw = source.format === 'raw';

  // a raw base is recognised in place (read-only). With GNU cp (Linux) the copy and the base's hash start
  // first and the recognition runs beside them, as it is mostly waiting on a worker; a refused base then
  // only costs a partial copy, which is removed. Elsewhere (a clone: no time to win) it comes first.
  new ProgressMeter('checking', null, onProgress, { detail: baseName });
  const copyBeside = raw && (options.platform ?? process.platform) === 'linux';
  let inspection = raw && !copyBeside ? await recognise(basePath) : null;
  await fsp.mkdir(outDir, { recursive: true }).catch((error: unknown) => {
    throw toAtlasError(error, `Cannot create the output folder ${outDir}`);
  });
  if (raw) await checkRoomForCopy(outDir, inputs.baseStat);
  const key = await secretsKey(outDir);

  // ---- 2. the copy, to *.partial (claimed first: a second insert of the same name is refused)
  let plan: InjectionPlan | null = null;
  let captured: Captured | null = null;
  let copyMethod: InsertResult['copyMethod'];
  let imageSize = inputs.baseStat.size;
  let imageSha256: string | undefined;
  const out = await claimPartial(partial, options.force === true);
  let cleanup = true;
  try {
    if (!raw) {
      copyMethod = 'decompress';
      // the compressed file's own hash (what Armbian's .sha lists), read alongside the decompression
      hash.start(false);
      try {
        const written = await decompressInto(source, out, baseName, job.control);
        imageSha256 = written.sha256;
        imageSize = written.bytes;
      } finally {
        await out.close();
      }
    } else {
      await out.close();
      const beside = copyBeside ? await copyBesideInjection(job, partial) : null;
      if (beside) ({ inspection, plan, captured } = beside);
      if (beside?.copied) copyMethod = 'copy';
      else if (await cloneOver(basePath, partial)) {
        copyMethod = 'reflink';
        hash.stage = 'hashing';
        if (!hash.started) hash.start(true);
      } else {
        copyMethod = 'copy';
        const target = await fsp.open(partial, 'w', GOLDEN_IMAGE_MODE);
        try {
          const written = await copyInProcess(basePath, target, inputs.baseStat.size, baseName, job.control);
          hash.provide(written.sha256);
          imageSize = written.bytes;
        } finally {
          await target.close();
        }
      }
    }
    throwIfCancelled(signal);
    // the copy's data goes to the disk while the files are injected and read back (measured: the sync was
    // 1.1 s of a 1.9 s insert from a 2 GiB base when it came after them); one more sync at the end catches
    // the injected blocks
    const flushing = syncFile(partial);
    flushing.catch(() => undefined);
    const base = (inspection ??= await recognise(partial));
    const prepareMs = performance.now() - job.started;

    // ---- 3. inject (or apply the writes captured during the copy: every raw copy is byte for byte the base)
    const injection = (plan ??= planInjection(inputs, base, options.now ?? new Date()));
    hash.visible = false;
    const injectStart = performance.now();
    const injectMeter = new ProgressMeter('injecting', injection.injectBytes, onProgress);
    if (captured) await applyCapturedWrites(partial, captured.writes);
    else {
      await withExt4(
        partial,
        { offset: base.root.offset, write: true, sync: false, ...(signal ? { signal } : {}) },
        (ext4) => ext4.run(injection.ops),
      );
    }
    injectMeter.finish();
    const injectMs = (captured?.ms ?? 0) + performance.now() - injectStart;

    // ---- 4. everything read back from a fresh, read-only session and compared
    const verifyStart = performance.now();
    const verifyMeter = new ProgressMeter('verifying', injection.injectBytes, onProgress);
    await readBack(partial, base.root.offset, injection, signal);
    await flushing;
    await syncFile(partial);
    verifyMeter.finish();
    const verifyMs = performance.now() - verifyStart;

    // ---- 5. the base's hash (usually done by now), the manifest, then both into place
    hash.stage = 'hashing';
    hash.visible = true;
    const manifest = buildManifest({
      name: inputs.name,
      image: output,
      version: inputs.version,
      patch: inputs.patch,
      tag: inputs.tag,
      base,
      baseName,
      baseSha256: await hash.result(),
      format: source.format,
      ...(imageSha256 ? { imageSha256 } : {}),
      imageSize,
      plan: injection,
      secretsKey: key,
    });
    throwIfCancelled(signal);
    await writeManifest(manifestPartial, manifest);
    await fsp.rename(partial, output);
    await fsp.rename(manifestPartial, manifestPath);
    cleanup = false;
    await syncDir(outDir);
    return {
      output,
      manifestPath,
      manifest,
      base,
      warnings: inputs.warnings,
      copyMethod,
      timings: { prepareMs, injectMs, verifyMs, totalMs: performance.now() - job.started },
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

/** The injection's writes, captured on a copy-on-write view of the base while cp copies it. */
interface Captured {
  writes: CapturedWrite[];
  ms: number;
}

/**
 * GNU cp copies only the base's data extents (SEEK_DATA) in the kernel, or reflinks, into the claimed partial;
 * the hash, the recognition and the injection (its writes kept in memory) read the same base meanwhile.
 * `copied` false: there is no GNU cp and the caller copies another way; what was captured still applies, as
 * every raw copy is byte for byte the base.
 */
async function copyBesideInjection(
  job: Job,
  partial: string,
): Promise<{ copied: boolean; inspection: ArmbianInspection; plan: InjectionPlan; captured: Captured }> {
  const { signal } = job.control;
  const copyControl = new AbortController();
  const copying = copyWithCp(
    job.inputs.basePath,
    partial,
    signal ? AbortSignal.any([signal, copyControl.signal]) : copyControl.signal,
  );
  copying.catch(() => undefined);
  job.hash.start(true);
  try {
    const inspection = await job.recognise(job.inputs.basePath);
    const plan = planInjection(job.inputs, inspection, job.options.now ?? new Date());
    const captureStart = performance.now();
    const { writes } = await captureExt4Writes(
      job.inputs.basePath,
      { offset: inspection.root.offset, ...(signal ? { signal } : {}) },
      (ext4) => ext4.run(plan.ops),
    );
    const captured = { writes, ms: performance.now() - captureStart };
    return { copied: await copying, inspection, plan, captured };
  } catch (error) {
    copyControl.abort();
    throw error;
  } finally {
    await copying.catch(() => undefined);
  }
}

/** The manifest holds no secret: readable as any file the person makes. */
async function writeManifest(path: string, manifest: GoldenManifest): Promise<void> {
  await fsp.rm(path, { force: true });
  const handle = await fsp.open(path, 'wx', 0o644);
  try {
    await handle.writeFile(`${JSON.stringify(manifest, null, 2)}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function removeQuietly(path: string): Promise<void> {
  await fsp.rm(path, { force: true }).catch(() => undefined);
}
