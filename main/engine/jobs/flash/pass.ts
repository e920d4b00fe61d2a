/**
 * What the write and the read-back passes of one flash share: the block sizes, each card's record, the pass's
 * context, what the write pass leaves for the read-back, and how a card that fails is dropped and reported.
 */
import type { AtlasError } from '../../errors';
import type { BlockHasher } from '../../io/hash-pool';
import { formatBytes } from '../../format';
import type { JobControl } from '../../progress';
import { dropCard, type BoardCard, type CardBoard, type CardStep } from '../card-board';
import type { ImageSource } from '../../compress/source';
import type { DirectDevice } from '../../io/direct';
import type { ConfirmedDrive } from '../../drives/index';

export const FLASH_BLOCK = 4 * 1024 * 1024;
/** The head of the card written last: MBR/GPT and the boot code before the first partition. */
export const FLASH_HEAD = 1024 * 1024;
/** Hashed in pieces of this size, spread over the hashing workers (see hash-pool.ts). */
export const HASH_SEGMENT = FLASH_BLOCK / 2;

export interface FlashTargetSpec {
  device: string;
  /** What the user confirmed (the broker refuses a card that no longer matches). */
  confirmed?: ConfirmedDrive;
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

export interface Target extends BoardCard {
  spec: FlashTargetSpec;
  dev: DirectDevice | null;
  /** the end of what the read-back has compared so far */
  verifiedUpTo: number;
  verified: boolean;
  ejected: boolean;
  warnings: string[];
}

/** What every pass of one flash works with. */
export interface Pass {
  source: ImageSource;
  targets: Target[];
  control: JobControl;
  hasher: BlockHasher;
  board: CardBoard;
}

/** What the write pass did, for the read-back: the image's end, the blocks written (all when `only` is null). */
export interface Written {
  total: number;
  bytes: number;
  /** per block written, one hash per HASH_SEGMENT */
  hashes: string[][];
  only: number[] | null;
}

export function resultOf(t: Target): FlashTargetResult {
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
export function fail(t: Target, error: unknown, step: CardStep, at?: number): void {
  const reached =
    step === 'Verifying'
      ? `${formatBytes(t.verifiedBytes)} verified`
      : `${formatBytes(t.bytesWritten)} of the image written`;
  dropCard(t, error, step, at === undefined ? undefined : { at, reached });
}
