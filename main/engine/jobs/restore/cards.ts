/**
 * The cards of one restore: what is known of each card as the job goes, and its result. A card that fails is
 * dropped with its own error and the others go on; the rule, and each card's bar in the app, are shared with
 * Flash (card-board.ts).
 */
import type { AtlasError } from '../../errors';
import { formatBytes } from '../../format';
import type { BlockFile } from '../../io/block-file';
import type { DirectDevice } from '../../io/direct';
import { dropCard, everyCardFailed as everyFailed, type BoardCard, type CardStep } from '../card-board';
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

export interface RestoreCard extends BoardCard {
  spec: RestoreTargetSpec;
  dev: DirectDevice | null;
  /** the card for small I/O at any offset (partition table, libext2fs): aligned for O_DIRECT */
  file: BlockFile | null;
  /** this card's partition table (root grown to its size when asked) */
  table: PartitionTable | null;
  verified: boolean;
  grow: GrowOutcome;
  growMessage: string;
  identityChanges: string[];
  ejected: boolean;
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
 * Drops a card that failed (see card-board.ts). `at`: the byte of the card being written or read, named with how
 * far the card had got (restored, or verified) out of `total`, so the person knows where it gave up.
 */
export function failCard(card: RestoreCard, error: unknown, step: CardStep, at?: number, total = 0): void {
  const done = step === 'Verifying' ? card.verifiedBytes : card.bytesWritten;
  const reached = `${formatBytes(done)} of ${formatBytes(total)} ${step === 'Verifying' ? 'verified' : 'restored'}`;
  dropCard(card, error, step, at === undefined ? undefined : { at, reached });
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

/** The error of a restore whose every card failed (see card-board.ts). */
export function everyCardFailed(cards: RestoreCard[]): AtlasError {
  return everyFailed(cards, resultOf);
}
