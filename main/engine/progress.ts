/**
 * Progress reporting shared by every job: a job takes a JobControl and reports through a ProgressMeter,
 * which computes rate and ETA and throttles callbacks so that a fast loop does not flood the UI.
 */
import type { CardProgress, JobStage } from '../contract';

export type { CardProgress, JobStage };

export interface Progress {
  /** What is happening now: one of the contract's stages, each of which the app labels. */
  stage: JobStage;
  bytesDone: number;
  /** null when the total is unknown (a stream of unknown length). */
  bytesTotal: number | null;
  /** bytes per second over the recent window */
  rate: number;
  /** seconds left at the current rate, or null when unknown */
  etaSeconds: number | null;
  /** A short human line for the stage (a file or partition name), never secret content. */
  detail?: string;
  /** a job on several cards: each card's own state (see the contract's CardProgress) */
  cards?: CardProgress[];
}

export type ProgressListener = (progress: Progress) => void;

/** What every job receives besides its options. */
export interface JobControl {
  signal?: AbortSignal | undefined;
  onProgress?: ProgressListener;
}

const WINDOW_MS = 3000;

export class ProgressMeter {
  private done = 0;
  private lastEmit = 0;
  private readonly samples: Array<{ t: number; bytes: number }> = [];
  private detail: string | undefined;
  private cards: CardProgress[] | undefined;

  constructor(
    private readonly stage: JobStage,
    private readonly total: number | null,
    private readonly listener: ProgressListener | undefined,
    private readonly options: { intervalMs?: number; detail?: string; now?: () => number } = {},
  ) {
    this.detail = options.detail;
    this.samples.push({ t: this.now(), bytes: 0 });
    this.emit(true);
  }

  get bytesTotal(): number | null {
    return this.total;
  }

  get bytesDone(): number {
    return this.done;
  }

  /** Names what is being worked on now (a partition, a file) without restarting the rate and ETA. */
  setDetail(detail: string): void {
    this.detail = detail;
    this.emit(true);
  }

  /**
   * Each card's state on a multi-card job (the array is copied). A change of state is sent at once; byte counts
   * ride on the next throttled report.
   */
  setCards(cards: CardProgress[], stateChanged = false): void {
    this.cards = cards.map((c) => ({ ...c }));
    if (stateChanged) this.emit(true);
  }

  add(bytes: number): void {
    this.set(this.done + bytes);
  }

  set(bytesDone: number): void {
    this.done = bytesDone;
    this.emit(false);
  }

  /** Emits a last event with the final count, whatever the throttle says. */
  finish(): void {
    if (this.total !== null && this.done < this.total) this.done = this.total;
    this.emit(true);
  }

  snapshot(): Progress {
    const t = this.now();
    while (this.samples.length > 2 && t - this.samples[1]!.t > WINDOW_MS) this.samples.shift();
    const first = this.samples[0]!;
    const seconds = (t - first.t) / 1000;
    const rate = seconds > 0 ? (this.done - first.bytes) / seconds : 0;
    const left = this.total === null ? null : Math.max(0, this.total - this.done);
    const etaSeconds = left === null || rate <= 0 ? null : left / rate;
    return {
      stage: this.stage,
      bytesDone: this.done,
      bytesTotal: this.total,
      rate,
      etaSeconds,
      ...(this.detail ? { detail: this.detail } : {}),
      ...(this.cards ? { cards: this.cards.map((c) => ({ ...c })) } : {}),
    };
  }

  private emit(force: boolean): void {
    const t = this.now();
    if (!force && t - this.lastEmit < (this.options.intervalMs ?? 200)) return;
    this.samples.push({ t, bytes: this.done });
    this.lastEmit = t;
    this.listener?.(this.snapshot());
  }

  private now(): number {
    return this.options.now ? this.options.now() : performance.now();
  }
}
