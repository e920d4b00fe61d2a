/**
 * The cards of a job that writes several side by side (Flash, Restore), each with its own fate: a card that fails
 * (a write error, removed, a read-back that differs) is dropped with an error naming the card, what was being
 * done, the byte and how far it had got; the others go on. Each card's bar in the app (the contract's
 * CardProgress) comes from the CardBoard here. The jobs keep their own card records and results; what they share
 * is the BoardCard below.
 */
import { existsSync } from 'node:fs';
import { AtlasError, isAtlasError, toAtlasError } from '../errors';
import type { CardProgress, ProgressMeter } from '../progress';

/** What a job does to a card, in the words of its errors: "Writing /dev/sdc at byte …". */
export type CardStep = 'Preparing' | 'Writing' | 'Flushing' | 'Verifying' | 'Growing root on' | 'Re-arming';

/** What this module reads and sets of a job's card. */
export interface BoardCard {
  spec: { device: string };
  live: boolean;
  error: AtlasError | null;
  /** how far the writes got on this card (in the job's terms: bytes written, or the end of the image written) */
  bytesWritten: number;
  /** the bytes read back and found equal so far */
  verifiedBytes: number;
  /** what the card is doing now, and the bytes of that state so far (its bar in the app) */
  state: CardProgress['state'];
  stateBytes: number;
}

/** Where on the card the step gave up: the byte, and how far the job had got there in its own words. */
export interface CardSpot {
  at: number;
  /** e.g. "12 MiB of 1 GiB restored", "8 MiB verified" */
  reached: string;
}

/**
 * Drops a card that failed `step`, keeping its first error; `spot` (when the step was at a byte of the card) is
 * named in the message and the details. A card pulled out mid-write shows up as EIO and then its node disappears:
 * that is said as the card going away.
 */
export function dropCard(card: BoardCard, error: unknown, step: CardStep, spot?: CardSpot): void {
  if (!card.live) return;
  const device = card.spec.device;
  const place = spot ? ` at byte ${spot.at} (${spot.reached})` : '';
  const facts = spot
    ? { device, offset: spot.at, written: card.bytesWritten, verified: card.verifiedBytes }
    : { device };
  let e = toAtlasError(error, `${step} ${device}${place}`);
  if (!isAtlasError(error)) {
    e = new AtlasError(e.code, e.message, { ...e.details, ...facts }, { cause: error });
  } else if (e.details.device === undefined) {
    // an error of the engine's own (a re-arm's, naming the image) says which card too: records go by it
    e = new AtlasError(e.code, e.message, { ...e.details, device }, { cause: error });
  }
  if ((e.code === 'IO_ERROR' || e.code === 'NOT_FOUND') && !existsSync(device)) {
    e = new AtlasError(
      'DRIVE_REMOVED',
      `${device} went away while ${step.toLowerCase()} it${place}. Was the card removed?`,
      facts,
      { cause: error },
    );
  }
  card.live = false;
  card.error = e;
  card.state = 'failed';
}

/**
 * The error of a job whose every card failed: the card's own when there was one; with several, each card's
 * message and, in the details, every card's result (`resultOf`, the job's own).
 */
export function everyCardFailed<C extends BoardCard>(cards: C[], resultOf: (card: C) => unknown): AtlasError {
  const failed = cards.filter((c) => c.error);
  const first = failed[0]?.error ?? new AtlasError('INTERNAL', 'Every card failed.');
  if (cards.length === 1) return first;
  return new AtlasError(first.code, `Every card failed. ${failed.map((c) => c.error!.message).join(' ')}`, {
    ...first.details,
    targets: cards.map(resultOf),
  });
}

/**
 * The per-card results an everyCardFailed error carries (its details' `targets`, each the job's own result), or
 * null for any other error: one card's own, or one that ended before any card had its turn.
 */
export function everyCardResults<R extends { device: string }>(error: unknown): R[] | null {
  if (!isAtlasError(error)) return null;
  const targets = (error.details as { targets?: unknown }).targets;
  if (!Array.isArray(targets)) return null;
  return (targets as Array<R | null>).filter((t): t is R => typeof t?.device === 'string');
}

/**
 * Each card's bar, sent through the meter of the pass running now: a change of state at once, the bytes with
 * the meter's next report. A dropped card shows as failed, with its error.
 */
export class CardBoard {
  private meter: ProgressMeter | null = null;
  private total: number | null = null;
  private lastStates = '';

  constructor(private readonly cards: readonly BoardCard[]) {}

  /** A new pass (its meter, the bytes each card's bar counts to in it): the live cards enter `state` at zero. */
  use(meter: ProgressMeter, total: number | null, state: CardProgress['state']): void {
    this.meter = meter;
    this.total = total;
    for (const c of this.cards.filter((x) => x.live)) {
      c.state = state;
      c.stateBytes = 0;
    }
    this.report();
  }

  /** The live cards move to `state` within the pass running now, keeping their bytes. */
  enter(state: CardProgress['state']): void {
    for (const c of this.cards.filter((x) => x.live)) c.state = state;
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
