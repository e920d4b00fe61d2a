/**
 * The partition images' used blocks onto every card from one decompression. partclone hands out runs of used
 * blocks; contiguous runs are gathered into chunks of CHUNK bytes in page-aligned buffers and each chunk goes to
 * every live card side by side with O_DIRECT (partition starts and partclone block sizes are multiples of 512, so
 * a chunk is whole sectors; one that is not, on a card with larger sectors, goes through the card's aligning
 * handle, which reads the edge sector first). Each chunk is hashed while the cards write it, for the read-back
 * (verify.ts). A gap between runs is never written: free blocks keep what the card holds,
 * as partclone leaves them.
 */
import { AtlasError, throwIfCancelled } from '../../errors';
import { writeFullyAt } from '../../io/block-file';
import { alignedBuffer, ioUnit, writeFully } from '../../io/direct';
import type { BlockHasher } from '../../io/hash-pool';
import type { ProgressMeter } from '../../progress';
import type { CardBoard } from '../card-board';
import { everyCardFailed, failCard, type RestoreCard } from './cards';

/** Bytes gathered before a chunk goes to the cards. */
export const CHUNK = 4 * 1024 * 1024;
/** Hashed in pieces of this size, spread over the hashing workers; a bad read-back is placed within one. */
export const HASH_SEGMENT = 1024 * 1024;
/** Chunks being written while the next one fills. */
const IN_FLIGHT = 2;

/** A stretch of the cards written in one piece, with its hashes (one per HASH_SEGMENT), for the read-back. */
export interface WrittenExtent {
  at: number;
  length: number;
  hashes: string[];
}

export class RunWriter {
  readonly extents: WrittenExtent[] = [];
  private readonly pool: Buffer[];
  private next = 0;
  private current: { buffer: Buffer; at: number; length: number } | null = null;
  private readonly inFlight: Array<Promise<void>> = [];
  /**
   * Each card's writes: whole-unit writes touch no sector another one does, so they run side by side (the disk
   * sees more than one at a time); an aligning write reads the edge sectors it shares with its neighbours, so it
   * waits for every write before it, and the writes after it wait for it.
   */
  private readonly order = new Map<RestoreCard, { all: Promise<void>; barrier: Promise<void> }>();
  private hashError: AtlasError | null = null;

  constructor(
    private readonly cards: RestoreCard[],
    private readonly hasher: BlockHasher,
    private readonly meter: ProgressMeter,
    private readonly board: CardBoard,
    private readonly signal: AbortSignal | undefined,
  ) {
    const devices = cards.filter((c) => c.live).map((c) => c.dev!);
    // plain memory: no worker reads it (the hashing is inline, see index.ts)
    this.pool = Array.from({ length: IN_FLIGHT + 1 }, () => alignedBuffer(CHUNK, devices));
  }

  private get total(): number {
    return this.meter.bytesTotal ?? 0;
  }

  /** `length` bytes of `data` belong at byte `at` of every card. */
  async add(data: Uint8Array, at: number, length: number): Promise<void> {
    let done = 0;
    while (done < length) {
      const c = this.current;
      if (c && c.at + c.length === at + done && c.length < CHUNK) {
        const n = Math.min(CHUNK - c.length, length - done);
        c.buffer.set(data.subarray(done, done + n), c.length);
        c.length += n;
        done += n;
      } else {
        await this.dispatch();
        this.current = { buffer: this.pool[this.next++ % this.pool.length]!, at: at + done, length: 0 };
      }
    }
    this.meter.add(length);
  }

  /** Everything gathered onto the cards, and the cards' caches to the medium. */
  async finish(): Promise<void> {
    await this.dispatch();
    await Promise.all(this.inFlight.splice(0));
    if (this.hashError) throw this.hashError;
    await Promise.all(
      this.cards
        .filter((c) => c.live)
        .map((c) =>
          c
            .dev!.handle.sync()
            .catch((error: unknown) => failCard(c, error, 'Flushing', undefined, this.total)),
        ),
    );
  }

  /** Settles what is in flight after a failure or a cancel, so no buffer is written after the job ends. */
  async abandon(): Promise<void> {
    await Promise.allSettled([...this.inFlight.splice(0), ...[...this.order.values()].map((o) => o.all)]);
  }

  private async dispatch(): Promise<void> {
    const c = this.current;
    this.current = null;
    if (!c || c.length === 0) return;
    throwIfCancelled(this.signal);
    if (this.hashError) throw this.hashError;
    const extent: WrittenExtent = { at: c.at, length: c.length, hashes: [] };
    this.extents.push(extent);
    const hashed = this.hasher.hashSegments(c.buffer, c.length, HASH_SEGMENT).then(
      (hashes) => {
        extent.hashes = hashes;
      },
      (error: unknown) => {
        this.hashError ??= new AtlasError('INTERNAL', `Hashing the restored data: ${String(error)}`);
      },
    );
    const writes = this.cards
      .filter((card) => card.live)
      .map((card) => this.writeTo(card, c.buffer, c.length, c.at));
    this.inFlight.push(Promise.all([hashed, ...writes]).then(() => undefined));
    // the pool holds IN_FLIGHT chunks being written and the one filling: the oldest frees its buffer
    if (this.inFlight.length > IN_FLIGHT) await this.inFlight.shift();
    if (!this.cards.some((card) => card.live)) throw everyCardFailed(this.cards);
  }

  private writeTo(card: RestoreCard, buffer: Buffer, length: number, at: number): Promise<void> {
    const dev = card.dev!;
    const unit = ioUnit(dev);
    // whole units (a card's sector, O_DIRECT or not: a raw node refuses less) go straight to the card
    const whole = at % unit === 0 && length % unit === 0;
    const write = async (): Promise<void> => {
      if (!card.live) return;
      try {
        if (at + length > dev.size) {
          throw new AtlasError(
            'TARGET_TOO_SMALL',
            `The clone does not fit on ${dev.path} (${dev.size} bytes).`,
          );
        }
        if (whole) {
          await writeFully(dev, buffer, length, at);
        } else {
          await writeFullyAt(
            card.file!.handle,
            buffer,
            at,
            length,
            () => new Error(`short write at byte ${at}`),
          );
        }
        card.bytesWritten += length;
        card.stateBytes += length;
        this.board.report();
      } catch (error) {
        // the writes before this one settle first: one of them failing too names the first bad byte, as
        // writing in order would (the card's first failure is the one it keeps)
        await before.all;
        failCard(card, error, 'Writing', at, this.total);
        this.board.report();
      }
    };
    const before = this.order.get(card) ?? { all: Promise.resolve(), barrier: Promise.resolve() };
    const done = (whole ? before.barrier : before.all).then(write);
    const all = Promise.all([before.all, done]).then(() => undefined);
    this.order.set(card, { all, barrier: whole ? before.barrier : all });
    return done;
  }
}
