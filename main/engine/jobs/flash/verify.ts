/**
 * Flash's read-back: every live card read from the device (O_DIRECT, or its cache dropped first) and each block's
 * hashes compared with the ones the write pass took. On a mismatch the card is checked for the signature of a
 * fake-capacity card, else the source is streamed again to name the first byte that differs.
 */
import { AtlasError } from '../../errors';
import type { BlockHasher } from '../../io/hash-pool';
import { ProgressMeter, type JobControl } from '../../progress';
import { fakeCapacityError, wrapPeriod } from '../fake-capacity';
import type { ImageSource } from '../../compress/source';
import {
  alignedBuffer,
  dropDeviceCache,
  ioUnit,
  readBlocks,
  readFully,
  type DirectDevice,
} from '../../io/direct';
import { FLASH_BLOCK, HASH_SEGMENT, fail, type Pass, type Target, type Written } from './pass';

/** Read-back: blocks read ahead of the one being compared (measured: 3 beats 2 when hashing is the bottleneck). */
const VERIFY_AHEAD = 3;

export async function verifyAll(pass: Pass, written: Written): Promise<void> {
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
