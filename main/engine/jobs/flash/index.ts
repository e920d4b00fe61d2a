/**
 * Flash: one image (.img, .gz, .xz, .zip, .zst) to one or several cards, fed from a single read of the
 * source, then verified by reading every card back from the device (O_DIRECT, or the device cache dropped).
 *
 * Order of writes: the first 1 MiB (partition table, boot code) is zeroed first and written last, so a card
 * pulled out half-way never looks bootable. An XXH3 per 2 MiB is taken while writing, on worker threads
 * reading the shared write buffer in place (hash-pool.ts), so hashing overlaps the device writes instead of
 * delaying the next one; verify reads ahead while it compares the read-back blocks against them and, on a
 * mismatch, streams the source again to report the exact first bad byte. A raw source is read with O_DIRECT
 * where the filesystem allows it: the image goes straight into the write buffers, without a page-cache copy
 * competing for the CPU with the hashing and without pushing the user's working set out of memory.
 *
 * A target that fails is dropped and reported; the others go on. The job never prompts; the caller confirms
 * first, and the cards are opened and ejected through `access` (the root broker's checks the target rules again
 * right before opening, see main/helper/).
 */
import { realpath } from 'node:fs/promises';
import { planUsedBlocks, type UsedBlocksPlan } from './plan';
import { AtlasError, throwIfCancelled, toAtlasError } from '../../errors';
import { BlockHasher } from '../../io/hash-pool';
import type { JobControl } from '../../progress';
import { CardBoard, everyCardFailed } from '../card-board';
import { openImageSource, type ImageSource } from '../../compress/source';
import type { CardAccess } from '../../drives/index';
import {
  FLASH_BLOCK,
  fail,
  resultOf,
  type FlashTargetResult,
  type FlashTargetSpec,
  type Pass,
  type Target,
} from './pass';
import { writeAll } from './write';
import { verifyAll } from './verify';

export { FLASH_BLOCK, FLASH_HEAD, type FlashTargetResult, type FlashTargetSpec } from './pass';

export interface FlashOptions {
  source: string;
  targets: FlashTargetSpec[];
  /** how the cards are opened and ejected: the root broker's in the app and the CLI (see drives/access.ts) */
  access: CardAccess;
  /** Read every card back and compare (default true). */
  verify?: boolean;
  /** Eject the cards at the end (default true). */
  eject?: boolean;
  /** Use the xz/pigz/zstd binaries when present (default true). */
  useTools?: boolean;
  /**
   * O_DIRECT writes and read-back (default true, Linux). false: buffered writes, then the device's cache is
   * dropped (BLKFLSBUF) before the read-back; kept for the benchmark that justifies the default.
   */
  directIO?: boolean;
  /**
   * Write only the blocks the image's filesystems use, plus everything outside its partitions (see
   * plan.ts): the free space on the card keeps its old data. Raw images only; verified over the same blocks.
   */
  usedBlocksOnly?: boolean;
  /** For tests only: runs after the data is on the cards and before the read-back. */
  testHooks?: { beforeVerify?: (devices: string[]) => Promise<void> | void };
}

export interface FlashResult {
  source: string;
  format: string;
  /** uncompressed bytes written to each card */
  imageSize: number;
  verified: boolean;
  ok: boolean;
  targets: FlashTargetResult[];
  writeSeconds: number;
  verifySeconds: number;
  /** set when only the used blocks were written: how much of the image that was */
  usedBlocksOnly: { bytesWritten: number; imageBytes: number } | null;
}

export async function flashJob(options: FlashOptions, control: JobControl = {}): Promise<FlashResult> {
  const { access } = options;
  const { signal } = control;
  if (options.targets.length === 0) throw new AtlasError('INVALID_ARGUMENT', 'No target to flash.');
  const devices = options.targets.map((t) => t.device);
  if (new Set(devices).size !== devices.length) {
    throw new AtlasError('INVALID_ARGUMENT', 'The same target is listed twice.');
  }
  throwIfCancelled(signal);
  const source = await openImageSource(options.source, { signal, useTools: options.useTools ?? true });
  const targets: Target[] = options.targets.map((spec) => ({
    spec,
    dev: null,
    live: true,
    error: null,
    bytesWritten: 0,
    verifiedBytes: 0,
    verifiedUpTo: 0,
    verified: false,
    ejected: false,
    warnings: [],
    state: 'writing',
    stateBytes: 0,
  }));
  const board = new CardBoard(targets);
  const verify = options.verify !== false;
  let writeSeconds: number;
  let verifySeconds = 0;
  let imageSize: number;
  // planned before anything is unmounted or written: an image it cannot read is refused untouched
  let plan: UsedBlocksPlan | null = null;
  let usedBlocksOnly: FlashResult['usedBlocksOnly'] = null;
  if (options.usedBlocksOnly) {
    if (source.format !== 'raw') {
      throw new AtlasError(
        'INVALID_ARGUMENT',
        `Writing only the used blocks needs a raw .img (its filesystems are read before writing); ${source.path} is ${source.format}. Decompress it first, or flash it whole.`,
      );
    }
    plan = await planUsedBlocks(source.path, FLASH_BLOCK);
    usedBlocksOnly = { bytesWritten: plan.bytes, imageBytes: plan.imageBytes };
  }
  const hasher = new BlockHasher();
  try {
    await Promise.all(targets.map((t) => prepareTarget(t, source, options, access)));
    throwIfCancelled(signal);
    if (!targets.some((t) => t.live)) throw everyCardFailed(targets, resultOf);

    const started = performance.now();
    const pass: Pass = { source, targets, control, hasher, board };
    const written = await writeAll(pass, plan);
    imageSize = written.total;
    writeSeconds = (performance.now() - started) / 1000;

    if (verify && targets.some((t) => t.live)) {
      await options.testHooks?.beforeVerify?.(targets.filter((t) => t.live).map((t) => t.spec.device));
      const verifyStarted = performance.now();
      await verifyAll(pass, written);
      verifySeconds = (performance.now() - verifyStarted) / 1000;
    }
  } finally {
    await Promise.all([
      hasher.close().catch(() => undefined),
      ...targets.map((t) => t.dev?.handle.close().catch(() => undefined)),
    ]);
  }
  throwIfCancelled(signal);

  if (options.eject !== false) {
    board.enter('finishing');
    for (const t of targets.filter((x) => x.live)) {
      try {
        t.ejected = await access.eject(t.spec.device);
      } catch (error) {
        t.warnings.push(toAtlasError(error).message);
      }
    }
  }
  board.enter('done');
  if (!targets.some((t) => t.live)) throw everyCardFailed(targets, resultOf);
  const results = targets.map(resultOf);
  return {
    source: options.source,
    format: source.format,
    imageSize,
    verified: verify && targets.every((t) => t.verified),
    ok: targets.every((t) => t.live),
    targets: results,
    writeSeconds,
    verifySeconds,
    usedBlocksOnly,
  };
}

async function prepareTarget(
  t: Target,
  source: ImageSource,
  options: FlashOptions,
  access: CardAccess,
): Promise<void> {
  const device = t.spec.device;
  try {
    // a path the person cannot resolve (a card the broker opened for them) is compared as given
    const [targetReal, sourceReal] = await Promise.all([
      realpath(device).catch(() => device),
      realpath(source.path),
    ]);
    if (targetReal === sourceReal) {
      throw new AtlasError('SOURCE_IS_TARGET', `${device} is the image being flashed.`, { device });
    }
    const need = source.size;
    // the descriptor stays open from the first write to the end of the read-back, so macOS cannot remount
    // the card in between (Etcher #4422)
    t.dev = await access.open(device, { write: true, direct: options.directIO !== false });
    if (need !== null && need > t.dev.size) {
      throw new AtlasError(
        'TARGET_TOO_SMALL',
        `${device} holds ${t.dev.size} bytes; the image needs ${need}.`,
        {
          device,
          deviceSize: t.dev.size,
          imageSize: need,
        },
      );
    }
  } catch (error) {
    fail(t, error, 'Preparing');
  }
}
