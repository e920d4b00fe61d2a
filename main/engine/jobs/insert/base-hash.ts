/**
 * The base image's sha256 for the manifest. It runs beside the copy and the injection (only the manifest waits
 * for it), is remembered per base file in the build folder (hash-cache.ts), and can be started ahead, as soon as
 * the app's user picks a base (prehashBase).
 */
import { join, resolve } from 'node:path';
import { AtlasError } from '../../errors';
import type { JobStage, ProgressListener } from '../../progress';
import { sha256File } from '../../io/hash';
import { cachedSha256 } from './hash-cache';

/** Where an insert into `outDir` remembers its bases' hashes. */
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

/**
 * One insert's hash of its base. Its progress stands for the copy's (GNU cp reports none): shown as `stage`
 * while `visible`, hidden while other stages report, and shown as 'hashing' when the manifest is all that is
 * left to wait for. It has its own abort, so a refusal or a failure never leaves it reading in the background.
 */
export class BaseHash {
  stage: JobStage = 'copying';
  visible = true;
  private hashing: Promise<string> | null = null;
  private readonly control = new AbortController();
  private readonly signal: AbortSignal;

  constructor(
    private readonly path: string,
    /** the hash cache's folder; null: always hash */
    private readonly cacheDir: string | null,
    signal: AbortSignal | undefined,
    private readonly onProgress: ProgressListener | undefined,
  ) {
    this.signal = signal ? AbortSignal.any([signal, this.control.signal]) : this.control.signal;
  }

  get started(): boolean {
    return this.hashing !== null;
  }

  /** Starts reading the base; `shown`: its progress is reported (see the class comment). */
  start(shown: boolean): void {
    const progress: ProgressListener = (p) => {
      if (this.visible) this.onProgress?.({ ...p, stage: this.stage });
    };
    const compute = (): Promise<string> =>
      sha256File(this.path, shown ? { signal: this.signal, onProgress: progress } : { signal: this.signal });
    const hashing = this.cacheDir
      ? cachedSha256(this.path, this.cacheDir, compute).then((r) => r.sha256)
      : compute();
    hashing.catch(() => undefined); // awaited later: a failure meanwhile is not unhandled
    this.hashing = hashing;
  }

  /** The hash of a copy that read the base whole, in one pass: nothing left to read. */
  provide(sha256: string): void {
    this.hashing ??= Promise.resolve(sha256);
  }

  result(): Promise<string> {
    if (!this.hashing) throw new AtlasError('INTERNAL', 'The base image was not hashed.');
    return this.hashing;
  }

  /** Stops a hash still running and waits for it to let go of the file. */
  async stop(): Promise<void> {
    this.control.abort();
    await this.hashing?.catch(() => undefined);
  }
}
