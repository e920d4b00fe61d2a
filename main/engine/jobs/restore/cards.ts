/**
 * The cards of one restore, each with its own fate: a card that fails (a write error, removed, a read-back that
 * differs) is dropped with an error naming the card, what was being done, the byte and how far it had got; the
 * others go on. Each card's bar in the app comes from here (the contract's CardProgress).
 */
import { existsSync } from 'node:fs';
import { AtlasError, isAtlasError, toAtlasError } from '../../errors';
import { formatBytes } from '../../format';
import type { BlockFile } from '../../io/block-file';
import type { DirectDevice } from '../../io/direct';
import type { CardProgress, ProgressMeter } from '../../progress';
import type { ConfirmedDrive } from '../../drives/index';
import type { PartitionTable } from '../../partition/types';

export type RestoreIntent = 'exact' | 'deploy';

export type GrowOutcome =
  /** the partition and its filesystem fill the card now */
  | 'resized'
  /** the partition fills the card; Armbian's armbian-resize-filesystem grows the filesystem at next boot */
  | 'at-first-boot'
  /** not asked for, or nothing to grow */
  | 'none';

export interface RestoreTargetSpec {
  /** a whole card (/dev/sdc) or a disk image file (created when missing) */
  device: string;
  /** what the person confirmed (the broker checks it again right before opening) */
  confirmed?: ConfirmedDrive;
  /** deploy only: this card's hostname, already expanded from the pattern */
  hostname?: string;
}

export interface RestoreTargetResult {
  device: string;
  ok: boolean;
  verified: boolean;
  bytesWritten: number;
  grow: GrowOutcome;
  /** a sentence for the person: what happened to the root filesystem's size */
  growMessage: string;
  /** deploy: the hostname given */
  hostname: string | null;
  /** deploy: each change made to the card's identity; [] for an exact restore */
  identityChanges: string[];
  ejected: boolean;
  /** why this card failed (the others went on) */
  error?: ReturnType<AtlasError['toJSON']>;
}

/** What the job does to a card, in the words of its errors. */
export type CardStep = 'Preparing' | 'Writing' | 'Flushing' | 'Verifying' | 'Growing root on' | 'Re-arming';

export interface RestoreCard {
  spec: RestoreTargetSpec;
  dev: DirectDevice | null;
  /** the card for small I/O at any offset (partition table, libext2fs): aligned for O_DIRECT */
  file: BlockFile | null;
  /** this card's partition table (root grown to its size when asked) */
  table: PartitionTable | null;
  live: boolean;
  error: AtlasError | null;
  bytesWritten: number;
  /** the bytes read back and found equal so far */
  verifiedBytes: number;
  verified: boolean;
  grow: GrowOutcome;
  growMessage: string;
  identityChanges: string[];
  ejected: boolean;
  state: CardProgress['state'];
  stateBytes: number;
}

export function newCard(spec: RestoreTargetSpec): RestoreCard {
  return {
    spec,
    dev: null,
    file: null,
    table: null,
    live: true,
    error: null,
    bytesWritten: 0,
    verifiedBytes: 0,
    verified: false,
    grow: 'none',
    growMessage: '',
    identityChanges: [],
    ejected: false,
    state: 'writing',
    stateBytes: 0,
  };
}

/**
 * Drops a card that failed. `at`: the byte of the card being written or read, named with how far the card had
 * got (restored, or verified) out of `total`, so the person knows where it gave up.
 */
export function failCard(card: RestoreCard, error: unknown, step: CardStep, at?: number, total = 0): void {
  if (!card.live) return;
  const device = card.spec.device;
  const got =
    step === 'Verifying'
      ? `${formatBytes(card.verifiedBytes)} of ${formatBytes(total)} verified`
      : `${formatBytes(card.bytesWritten)} of ${formatBytes(total)} restored`;
  const where = at === undefined ? `${step} ${device}` : `${step} ${device} at byte ${at} (${got})`;
  const facts =
    at === undefined
      ? { device }
      : { device, offset: at, written: card.bytesWritten, verified: card.verifiedBytes };
  let e = toAtlasError(error, where);
  if (!isAtlasError(error))
    e = new AtlasError(e.code, e.message, { ...e.details, ...facts }, { cause: error });
  // a card pulled out mid-write shows up as EIO, and then its node disappears
  if ((e.code === 'IO_ERROR' || e.code === 'NOT_FOUND') && !existsSync(device)) {
    const doing = step === 'Growing root on' ? 'growing root on' : step.toLowerCase();
    e = new AtlasError(
      'DRIVE_REMOVED',
      `${device} went away while ${doing} it${at === undefined ? '' : ` at byte ${at} (${got})`}. Was the card removed?`,
      facts,
      { cause: error },
    );
  }
  card.live = false;
  card.error = e;
  card.state = 'failed';
}

export function resultOf(card: RestoreCard): RestoreTargetResult {
  return {
    device: card.spec.device,
    ok: card.live,
    verified: card.verified,
    bytesWritten: card.bytesWritten,
    grow: card.grow,
    growMessage: card.growMessage,
    hostname: card.spec.hostname ?? null,
    identityChanges: card.identityChanges,
    ejected: card.ejected,
    ...(card.error ? { error: card.error.toJSON() } : {}),
  };
}

/** The error of a job whose every card failed: the card's own when there was one. */
export function everyCardFailed(cards: RestoreCard[]): AtlasError {
  const failed = cards.filter((c) => c.error);
  const first = failed[0]?.error ?? new AtlasError('INTERNAL', 'Every card failed.');
  if (cards.length === 1) return first;
  return new AtlasError(first.code, `Every card failed. ${failed.map((c) => c.error!.message).join(' ')}`, {
    ...first.details,
    targets: cards.map(resultOf),
  });
}

/**
 * Each card's bar, sent through the meter of the pass running now: a change of state at once, the bytes with
 * the meter's next report.
 */
export class CardBoard {
  private meter: ProgressMeter | null = null;
  private total: number | null = null;
  private lastStates = '';

  constructor(private readonly cards: RestoreCard[]) {}

  /** The pass now running and the bytes each card's bar counts to in it; the live cards enter `state`. */
  use(meter: ProgressMeter, total: number | null, state: CardProgress['state']): void {
    this.meter = meter;
    this.total = total;
    for (const c of this.cards.filter((x) => x.live)) {
      c.state = state;
      c.stateBytes = 0;
    }
    this.report();
  }

  report(): void {
    if (!this.meter) return;
    const cards: CardProgress[] = this.cards.map((c) => ({
      device: c.spec.device,
      state: c.live ? c.state : 'failed',
      bytesDone: c.stateBytes,
      bytesTotal: this.total,
      ...(c.error ? { error: { code: c.error.code, message: c.error.message } } : {}),
    }));
    const states = cards.map((c) => c.state).join();
    this.meter.setCards(cards, states !== this.lastStates);
    this.lastStates = states;
  }
}
