/**
 * The read-back: every card read from the medium (O_DIRECT, or the device's cache dropped first) over exactly what
 * was written to it (its partition table and the used blocks), the blocks compared against the hashes taken while
 * writing, the table's few sectors byte for byte. With the addon each piece is read and hashed in one step on a
 * libuv thread (hash-pool.ts readThenHash), else read there and hashed here. A card that differs is dropped with
 * the byte where it differs (the table) or the piece of HASH_SEGMENT bytes that holds it; the others go on.
 */
import { AtlasError } from '../../errors';
import { formatBytes } from '../../format';
import { alignedBuffer, ioUnit, dropDeviceCache, readAhead, readFully } from '../../io/direct';
import { plainDescriptor } from '../../io/fd-handle';
import type { BlockHasher } from '../../io/hash-pool';
import type { JobControl } from '../../progress';
import { ProgressMeter } from '../../progress';
import type { CardBoard } from '../card-board';
import { failCard, type RestoreCard } from './cards';
import { HASH_SEGMENT, type WrittenExtent } from './write';

/** Reads in flight ahead of the piece being compared (HASH_SEGMENT each). */
const VERIFY_AHEAD = 4;

/** A write the partition table made on one card, kept to compare with the read-back. */
export interface TableWrite {
  position: number;
  data: Buffer;
}

export async function verifyCards(
  cards: RestoreCard[],
  extents: WrittenExtent[],
  tables: Map<RestoreCard, TableWrite[]>,
  hasher: BlockHasher,
  board: CardBoard,
  control: JobControl,
): Promise<void> {
  const live = cards.filter((c) => c.live);
  const bytes = extents.reduce((sum, e) => sum + e.length, 0);
  const meter = new ProgressMeter('verifying', bytes * live.length, control.onProgress, {
    detail: live.map((c) => c.spec.device).join(', '),
  });
  board.use(meter, bytes, 'verifying');
  await Promise.all(
    live.map(async (card) => {
      try {
        await dropDeviceCache(card.dev!);
        await verifyTable(card, tables.get(card) ?? []);
        await verifyExtents(card, extents, hasher, meter, board, control);
        card.verified = true;
      } catch (error) {
        if (control.signal?.aborted) throw error;
        const at = (error as AtlasError).details?.offset;
        failCard(card, error, 'Verifying', typeof at === 'number' ? at : undefined, bytes);
        board.report();
      }
    }),
  );
  meter.finish();
}

async function verifyTable(card: RestoreCard, writes: TableWrite[]): Promise<void> {
  for (const w of writes) {
    const back = Buffer.alloc(w.data.length);
    const got = await card.file!.read(back, w.position, w.data.length);
    const k = got < w.data.length ? got : back.findIndex((b, i) => b !== w.data[i]);
    if (k >= 0) throw mismatch(card, w.position + k, `its partition table (byte ${w.position + k})`);
  }
}

/** One hash segment of a written extent: what one read of the read-back covers. */
interface Piece {
  at: number;
  length: number;
  hash: string;
}

async function verifyExtents(
  card: RestoreCard,
  extents: WrittenExtent[],
  hasher: BlockHasher,
  meter: ProgressMeter,
  board: CardBoard,
  control: JobControl,
): Promise<void> {
  const dev = card.dev!;
  const unit = ioUnit(dev);
  // A hash segment per read, hashed as it arrives (with the addon, on the thread that read it, at once), while
  // the next ones are read: 5 MiB of buffers per card (16 cards: 80 MiB).
  const pieces: Piece[] = extents.flatMap((e) =>
    e.hashes.map((hash, k) => ({
      at: e.at + k * HASH_SEGMENT,
      length: Math.min(HASH_SEGMENT, e.length - k * HASH_SEGMENT),
      hash,
    })),
  );
  // a piece read whole sectors around it; `skip` is where it starts in the buffer
  const span = (p: Piece): { from: number; skip: number; ask: number } => {
    const from = p.at - (p.at % unit);
    return { from, skip: p.at - from, ask: Math.ceil((p.at + p.length) / unit) * unit - from };
  };
  const pool = Array.from({ length: VERIFY_AHEAD + 1 }, () => alignedBuffer(HASH_SEGMENT + 2 * unit, [dev]));
  // the hash each buffer's read came with (read and hashed in one step), by pool slot as the buffers are
  const hashed: Array<string | undefined> = [];
  const fd = plainDescriptor(dev.handle);
  const blocks = readAhead(pool, {
    count: pieces.length,
    ahead: VERIFY_AHEAD,
    signal: control.signal,
    position: (k) => pieces[k]!.at,
    want: (k) => span(pieces[k]!).ask,
    read: async (k, buffer) => {
      const p = pieces[k]!;
      const { from, skip, ask } = span(p);
      const fused =
        fd === null
          ? null
          : hasher.readThenHash(
              fd,
              buffer,
              { length: ask, position: from },
              { at: skip, length: p.length, segment: HASH_SEGMENT },
            );
      if (!fused) return readFully(dev, buffer, ask, from);
      const { bytesRead, hashes } = await fused;
      hashed[k % pool.length] = hashes[0];
      return bytesRead;
    },
  });
  let k = 0;
  for await (const { buffer, length } of blocks) {
    const p = pieces[k]!;
    const { skip, ask } = span(p);
    if (length < ask) {
      throw new AtlasError(
        'DRIVE_REMOVED',
        `${dev.path} ended at byte ${p.at + Math.max(0, length - skip)} while verifying (${formatBytes(card.verifiedBytes)} verified). Was the card removed?`,
        { device: dev.path, offset: p.at + Math.max(0, length - skip) },
      );
    }
    const readBack =
      hashed[k % pool.length] ??
      (await hasher.hashSegments(buffer.subarray(skip), p.length, HASH_SEGMENT, { now: true }))[0];
    hashed[k % pool.length] = undefined;
    if (readBack !== p.hash)
      throw mismatch(card, p.at, `the ${formatBytes(p.length)} starting at byte ${p.at}`);
    card.verifiedBytes += p.length;
    card.stateBytes += p.length;
    meter.add(p.length);
    board.report();
    k += 1;
  }
}

function mismatch(card: RestoreCard, at: number, where: string): AtlasError {
  const device = card.spec.device;
  return new AtlasError(
    'VERIFY_MISMATCH',
    `Verification failed on ${device}: the card differs from the clone in ${where} (${formatBytes(card.verifiedBytes)} verified before it). The card or the reader may be faulty; try another.`,
    { device, offset: at },
  );
}
