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
import { planUsedBlocks, type UsedBlocksPlan } from './flash-plan';
import { AtlasError, throwIfCancelled, toAtlasError } from '../errors';
import { BlockHasher } from '../io/hash-pool';
import { fullSync } from '../io/cache';
import { formatBytes } from '../format';
import { fakeCapacityError, wrapPeriod } from './fake-capacity';
import { ProgressMeter, type JobControl } from '../progress';
import { CardBoard, dropCard, everyCardFailed, type BoardCard, type CardStep } from './card-board';
import { openImageSource, type ImageSource } from '../compress/source';
import {
  alignedBuffer,
  dropDeviceCache,
  ioUnit,
  openDirect,
  readBlocks,
  readFully,
  writeFully,
  type Block,
  type DirectDevice,
} from '../io/direct';
import type { CardAccess, ConfirmedDrive } from '../drives/index';

export const FLASH_BLOCK = 4 * 1024 * 1024;
/** The head of the card written last: MBR/GPT and the boot code before the first partition. */
export const FLASH_HEAD = 1024 * 1024;
/** Hashed in pieces of this size, spread over the hashing workers (see hash-pool.ts). */
const HASH_SEGMENT = FLASH_BLOCK / 2;
const IN_FLIGHT = 2;
/** Read-back: blocks read ahead of the one being compared (measured: 3 beats 2 when hashing is the bottleneck). */
const VERIFY_AHEAD = 3;
/**
 * A decoded source (xz, gzip, zstd, zip) is bound by the decoder's CPU, and the card sits idle between blocks:
 * the cards are flushed every FLUSH_EVERY bytes meanwhile, so nothing is left to flush at the end, and the
 * decoder fills DECODE_AHEAD blocks ahead so a flush never stalls it. Measured with xz -T0 on 1 GiB to a loop
 * device: 3.3–3.5 s against 4.0–4.1 s with one flush at the end. A raw source keeps the card busy all along,
 * and flushing it meanwhile measured slower: one flush at the end.
 */
const FLUSH_EVERY = 64 * 1024 * 1024;
const DECODE_AHEAD = 4;

export interface FlashTargetSpec {
  device: string;
  /** What the user confirmed (the broker refuses a card that no longer matches). */
  confirmed?: ConfirmedDrive;
}

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
   * flash-plan.ts): the free space on the card keeps its old data. Raw images only; verified over the same blocks.
   */
  usedBlocksOnly?: boolean;
  /** For tests only: runs after the data is on the cards and before the read-back. */
  testHooks?: { beforeVerify?: (devices: string[]) => Promise<void> | void };
}

export interface FlashTargetResult {
  device: string;
  ok: boolean;
  bytesWritten: number;
  verified: boolean;
  ejected: boolean;
  /** O_DIRECT writes and read-back (false: buffered, cache dropped before verifying) */
  direct: boolean;
  error?: ReturnType<AtlasError['toJSON']>;
  warnings: string[];
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

interface Target extends BoardCard {
  spec: FlashTargetSpec;
  dev: DirectDevice | null;
  /** the end of what the read-back has compared so far */
  verifiedUpTo: number;
  verified: boolean;
  ejected: boolean;
  warnings: string[];
}

/** What every pass of one flash works with. */
interface Pass {
  source: ImageSource;
  targets: Target[];
  control: JobControl;
  hasher: BlockHasher;
  board: CardBoard;
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

function resultOf(t: Target): FlashTargetResult {
  return {
    device: t.spec.device,
    ok: t.live,
    bytesWritten: t.bytesWritten,
    verified: t.verified,
    ejected: t.ejected,
    direct: t.dev?.direct ?? false,
    ...(t.error ? { error: t.error.toJSON() } : {}),
    warnings: t.warnings,
  };
}

/**
 * Drops a target that failed (see card-board.ts). `at`: the byte of the card being read or written, named with how
 * far the job had got on that card (written, or verified), so the person knows where the card gave up.
 */
function fail(t: Target, error: unknown, step: CardStep, at?: number): void {
  const reached =
    step === 'Verifying'
      ? `${formatBytes(t.verifiedBytes)} verified`
      : `${formatBytes(t.bytesWritten)} of the image written`;
  dropCard(t, error, step, at === undefined ? undefined : { at, reached });
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

/**
 * Writes `buffer[from, to)` at `base + from`. `from` is sector-aligned; an end off a sector (the tail of an image
 * whose size is not whole sectors) is written as a whole sector after reading what the card holds there
 * (read-modify-write): a card takes whole sectors only (ioUnit), on every platform.
 */
async function writeRange(t: Target, buffer: Buffer, from: number, to: number, base: number): Promise<void> {
  const dev = t.dev!;
  const end = base + to;
  if (end > dev.size) {
    throw new AtlasError('TARGET_TOO_SMALL', `The image does not fit on ${dev.path} (${dev.size} bytes).`, {
      device: dev.path,
      deviceSize: dev.size,
    });
  }
  const s = ioUnit(dev);
  if ((to - from) % s === 0) {
    if (to > from) await writeFully(dev, buffer.subarray(from), to - from, base + from);
    return;
  }
  const alignedTo = from + Math.floor((to - from) / s) * s;
  if (alignedTo > from) await writeFully(dev, buffer.subarray(from), alignedTo - from, base + from);
  const sector = alignedBuffer(s, [dev]);
  const got = await readFully(dev, sector, s, base + alignedTo);
  if (got < s)
    throw new AtlasError('TARGET_TOO_SMALL', `The image does not fit on ${dev.path}.`, { device: dev.path });
  buffer.copy(sector, 0, alignedTo, to);
  await writeFully(dev, sector, s, base + alignedTo);
}

/** What the write pass did, for the read-back: the image's end, the blocks written (all when `only` is null). */
interface Written {
  total: number;
  bytes: number;
  /** per block written, one hash per HASH_SEGMENT */
  hashes: string[][];
  only: number[] | null;
}

async function writeAll(pass: Pass, plan: UsedBlocksPlan | null): Promise<Written> {
  const rawSource = await openRawSource(pass.source);
  try {
    return await writeBlocks(pass, rawSource, plan);
  } finally {
    await rawSource?.handle.close().catch(() => undefined);
  }
}

async function writeBlocks(
  { source, targets, control, hasher, board }: Pass,
  rawSource: DirectDevice | null,
  plan: UsedBlocksPlan | null,
): Promise<Written> {
  const live = (): Target[] => targets.filter((t) => t.live);
  const devs = live().map((t) => t.dev!);
  // blocks being written and hashed, the one being handed out and those read ahead never share a buffer
  const ahead = rawSource ? 1 : DECODE_AHEAD;
  const pool = Array.from({ length: IN_FLIGHT + 1 + ahead }, () =>
    alignedBuffer(FLASH_BLOCK, rawSource ? [...devs, rawSource] : devs, { shared: true }),
  );
  const head = alignedBuffer(FLASH_HEAD, devs);
  head.fill(0);
  // zero the old partition table first: until the very end the card holds no bootable layout
  await Promise.all(
    live().map((t) =>
      writeRange(t, head, 0, Math.min(FLASH_HEAD, t.dev!.size), 0).catch((e) => fail(t, e, 'Writing', 0)),
    ),
  );

  const hashes: string[][] = []; // per block, one hash per HASH_SEGMENT
  const inFlight: Array<Promise<void>> = [];
  const writeTotal = plan?.bytes ?? source.size ?? source.estimate;
  const meter = new ProgressMeter('writing', writeTotal, control.onProgress, {
    detail: targets.map((t) => t.spec.device).join(', '),
  });
  board.use(meter, writeTotal, 'writing');
  let headLength = 0;
  let position = 0; // the end of the image handed out to targets so far
  let bytes = 0; // bytes handed out (less than `position` when only the used blocks are written)
  let hashError: AtlasError | null = null;

  const dispatch = (buffer: Buffer, length: number, at: number): void => {
    // hashed on the worker while the same bytes go to the cards; the buffer is reused only after both
    const index = hashes.length;
    hashes.push([]);
    const hashed = hasher.hashSegments(buffer, length, HASH_SEGMENT).then(
      (hash) => {
        hashes[index] = hash;
      },
      (error: unknown) => {
        hashError ??= toAtlasError(error, 'Hashing the image');
      },
    );
    let from = 0;
    if (at === 0) {
      headLength = Math.min(FLASH_HEAD, length);
      buffer.copy(head, 0, 0, headLength);
      from = headLength;
    }
    const writes = live().map(async (t) => {
      try {
        await writeRange(t, buffer, from, length, at);
        t.bytesWritten = at + length;
        t.stateBytes += length;
      } catch (error) {
        fail(t, error, 'Writing', at + from);
      }
    });
    inFlight.push(Promise.all([hashed, ...writes]).then(() => undefined));
  };

  // decoded sources: the cards flushed as the writes go (see FLUSH_EVERY)
  let flushing: Promise<void> | null = null;
  let flushedAt = 0;
  const flushAll = (): Promise<void> =>
    Promise.all(
      live().map((t) => t.dev!.handle.datasync().catch((error: unknown) => fail(t, error, 'Writing'))),
    ).then(() => {
      flushing = null;
    });

  const blocks = produceBlocks(source, rawSource, pool, ahead, plan?.blocks ?? null, control.signal);
  try {
    for await (const { buffer, length, position: at } of blocks) {
      dispatch(buffer, length, at);
      position = at + length;
      bytes += length;
      if (!rawSource && !flushing && bytes - flushedAt >= FLUSH_EVERY) {
        flushedAt = bytes;
        flushing = flushAll();
      }
      if (inFlight.length >= IN_FLIGHT) await inFlight.shift();
      throwIfCancelled(control.signal);
      if (hashError) throw hashError;
      if (live().length === 0) throw everyCardFailed(targets, resultOf);
      board.report();
      meter.set(bytes);
    }
    await Promise.all(inFlight.splice(0));
    if (hashError) throw hashError;
  } catch (error) {
    await blocks.return(undefined);
    await Promise.allSettled([...inFlight, flushing]);
    throwIfCancelled(control.signal);
    throw toAtlasError(error, `Reading ${source.path}`);
  }
  if (bytes === 0) throw new AtlasError('CORRUPT_ARCHIVE', `${source.path} holds no data.`);

  // the head last, then everything to the medium
  await flushing;
  board.enter('finishing');
  await Promise.all(
    live().map(async (t) => {
      try {
        await writeRange(t, head, 0, headLength, 0);
      } catch (error) {
        fail(t, error, 'Writing', 0);
        return;
      }
      try {
        // F_FULLFSYNC on macOS where the node takes it; the eject that ends the job flushes the reader too
        await fullSync(t.dev!.handle);
      } catch (error) {
        fail(t, error, 'Flushing');
      }
    }),
  );
  meter.finish();
  // a used-blocks flash ends at the image's end, whether or not its last block was written
  return { total: plan ? source.fileSize : position, bytes, hashes, only: plan?.blocks ?? null };
}

/** A raw image opened for reading, with O_DIRECT where its filesystem allows it; null for archives. */
async function openRawSource(source: ImageSource): Promise<DirectDevice | null> {
  if (source.format !== 'raw') return null;
  // tiny files: the alignment probe needs 4 KiB, and there is nothing to gain
  return openDirect(source.path, { write: false, direct: source.fileSize >= FLASH_HEAD });
}

/**
 * The image in blocks of FLASH_BLOCK bytes, each in the next buffer of the pool (the caller keeps at most
 * pool.length - ahead - 1 blocks in flight), read straight into the pool: a raw image with O_DIRECT, a decoder tool's
 * output by a worker (see ImageSource.readBlocks). No stream, no copy, no fresh allocation per chunk, which on
 * this class of machine doubles the rate from a cached file and leaves xz the CPU it needs.
 */
function produceBlocks(
  source: ImageSource,
  rawSource: DirectDevice | null,
  pool: Buffer[],
  ahead: number,
  only: readonly number[] | null,
  signal: AbortSignal | undefined,
): AsyncGenerator<Block> {
  // the next blocks are read while this one is hashed and written
  if (rawSource) {
    return readBlocks(rawSource, pool, { end: source.fileSize, ahead, signal, ...(only ? { only } : {}) });
  }
  return source.readBlocks(pool, { ahead, signal });
}

async function verifyAll(pass: Pass, written: Written): Promise<void> {
  const { targets, control, board } = pass;
  const live = targets.filter((t) => t.live);
  const meter = new ProgressMeter('verifying', written.bytes * live.length, control.onProgress, {
    detail: live.map((t) => t.spec.device).join(', '),
  });
  board.use(meter, written.bytes, 'verifying');
  await Promise.all(
    live.map(async (t) => {
      try {
        await dropDeviceCache(t.dev!);
        await verifyTarget(pass, t, written, meter);
        t.verified = true;
      } catch (error) {
        if (control.signal?.aborted) throw error;
        fail(t, error, 'Verifying', t.verifiedUpTo);
        board.report();
      }
    }),
  );
  meter.finish();
}

async function verifyTarget(
  { source, control, hasher, board }: Pass,
  t: Target,
  { total, hashes, only }: Written,
  meter: ProgressMeter,
): Promise<void> {
  const dev = t.dev!;
  // VERIFY_AHEAD reads in flight while the worker hashes the block before them
  const pool = Array.from({ length: VERIFY_AHEAD + 1 }, () =>
    alignedBuffer(FLASH_BLOCK, [dev], { shared: true }),
  );
  let i = 0;
  // the card is at least as large as the image (checked before writing)
  for await (const { buffer, length, position: at } of readBlocks(dev, pool, {
    end: total,
    ahead: VERIFY_AHEAD,
    signal: control.signal,
    ...(only ? { only } : {}),
  })) {
    const want = Math.min(FLASH_BLOCK, total - at);
    if (length < want) {
      throw new AtlasError(
        'DRIVE_REMOVED',
        `${dev.path} ended at byte ${at + length} while verifying. Was the card removed?`,
      );
    }
    const block = buffer.subarray(0, want);
    const readBack = await hasher.hashSegments(block, want, HASH_SEGMENT);
    if (readBack.some((h, k) => h !== hashes[i]![k])) {
      // a used-blocks flash hashes only the blocks it wrote: the block numbers of the wrap test do not apply
      const period = only
        ? null
        : await wrapPeriod(i, hashes, (b) => readBackAt(dev, b, total, hasher, readBack, i));
      if (period !== null) throw fakeCapacityError(dev.path, dev.size, period * FLASH_BLOCK, at);
      const offset = await firstDifference(source, block, at, control);
      throw new AtlasError(
        'VERIFY_MISMATCH',
        `Verification failed on ${dev.path}: the card differs from the image at byte ${offset ?? at}` +
          `${offset === null ? ' (in the 4 MiB block starting there)' : ''}. The card or the reader may be faulty; try another.`,
        { device: dev.path, offset: offset ?? at, blockOffset: at },
      );
    }
    t.stateBytes += want;
    board.report();
    meter.add(want);
    t.verifiedBytes += want;
    t.verifiedUpTo = at + want;
    i += 1;
  }
}

/** The hashes of block `b` as the card holds it (the bad block's are known already); null past the image. */
async function readBackAt(
  dev: DirectDevice,
  b: number,
  total: number,
  hasher: BlockHasher,
  known: string[],
  knownBlock: number,
): Promise<string[] | null> {
  if (b === knownBlock) return known;
  const at = b * FLASH_BLOCK;
  if (at >= total) return null;
  const length = Math.min(FLASH_BLOCK, total - at);
  const buffer = alignedBuffer(FLASH_BLOCK, [dev], { shared: true });
  const unit = ioUnit(dev);
  if ((await readFully(dev, buffer, Math.ceil(length / unit) * unit, at)) < length) return null;
  return hasher.hashSegments(buffer, length, HASH_SEGMENT);
}

/** Streams the source again up to the bad block and returns the first byte where the card differs. */
async function firstDifference(
  source: ImageSource,
  block: Buffer,
  at: number,
  control: JobControl,
): Promise<number | null> {
  const copy = Buffer.from(block); // the read buffer may be reused
  let position = 0;
  const stream = source.createReadStream({ signal: control.signal });
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      const end = position + chunk.length;
      if (end > at) {
        const from = Math.max(at, position);
        const to = Math.min(end, at + copy.length);
        for (let p = from; p < to; p++) {
          if (chunk[p - position] !== copy[p - at]) return p;
        }
        if (to === at + copy.length) return null;
      }
      position = end;
    }
  } catch {
    return null;
  } finally {
    stream.destroy();
  }
  return null;
}
