/**
 * Flash's write pass: the image in blocks of FLASH_BLOCK, read once and written to every live card side by side,
 * each block hashed on the workers while it is written (hash-pool.ts), the head of the card zeroed first and
 * written last.
 */
import { AtlasError, throwIfCancelled, toAtlasError } from '../../errors';
import { fullSync } from '../../io/cache';
import { ProgressMeter } from '../../progress';
import { everyCardFailed } from '../card-board';
import type { ImageSource } from '../../compress/source';
import {
  alignedBuffer,
  ioUnit,
  openDirect,
  readBlocks,
  readFully,
  writeFully,
  type Block,
  type DirectDevice,
} from '../../io/direct';
import type { UsedBlocksPlan } from './plan';
import {
  FLASH_BLOCK,
  FLASH_HEAD,
  HASH_SEGMENT,
  fail,
  resultOf,
  type Pass,
  type Target,
  type Written,
} from './pass';

const IN_FLIGHT = 2;
/**
 * A decoded source (xz, gzip, zstd, zip) is bound by the decoder's CPU, and the card sits idle between blocks:
 * the cards are flushed every FLUSH_EVERY bytes meanwhile, so nothing is left to flush at the end, and the
 * decoder fills DECODE_AHEAD blocks ahead so a flush never stalls it. Measured with xz -T0 on 1 GiB to a loop
 * device: 3.3–3.5 s against 4.0–4.1 s with one flush at the end. A raw source keeps the card busy all along,
 * and flushing it meanwhile measured slower: one flush at the end.
 */
const FLUSH_EVERY = 64 * 1024 * 1024;
const DECODE_AHEAD = 4;

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

export async function writeAll(pass: Pass, plan: UsedBlocksPlan | null): Promise<Written> {
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
