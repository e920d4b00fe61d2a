/**
 * The app's job registry: every job gets an id, an AbortController, its progress forwarded as events, and exactly
 * one `job:finished` event, whether it succeeds, fails or is cancelled.
 */
import { randomUUID } from 'node:crypto';
import { AtlasError, toAtlasError } from '../engine/errors';
import type { JobControl, Progress } from '../engine/progress';
import { everyCardResults } from '../engine/jobs/card-board';
import type {
  ErrorDTO,
  EventChannel,
  EventOf,
  JobKind,
  JobOutcome,
  JobProgress,
  JobValues,
  OutcomeOf,
} from '../contract';

export type Emit = <E extends EventChannel>(event: E, payload: EventOf<E>) => void;

export interface ActiveJob {
  id: string;
  kind: JobKind;
  /** devices the job reads or writes: no second job may use them meanwhile */
  devices: string[];
  progress: JobProgress | null;
}

interface Entry extends ActiveJob {
  controller: AbortController;
  done: Promise<JobOutcome>;
}

export class JobRegistry {
  private readonly jobs = new Map<string, Entry>();

  constructor(
    private readonly emit: Emit,
    /** called whenever the set of jobs or their progress changes (dock and taskbar progress) */
    private readonly onActivity: (jobs: ActiveJob[]) => void = () => {},
  ) {}

  /** Starts `run` now and returns its id; the outcome arrives as a job:finished event. */
  start<K extends JobKind>(
    kind: K,
    devices: string[],
    run: (control: JobControl) => Promise<JobValues[K]>,
  ): { jobId: string; done: Promise<JobOutcome> } {
    const busy = devices.find((d) => this.busyDevices().has(d));
    if (busy)
      throw new AtlasError(
        'INVALID_ARGUMENT',
        `${busy} is already in use by a running job. Wait for it to finish.`,
      );
    const id = randomUUID();
    const controller = new AbortController();
    const entry = { id, kind, devices, progress: null, controller } as Omit<Entry, 'done'> as Entry;
    const onProgress = (p: Progress): void => {
      if (!this.jobs.has(id)) return; // a late event after the result is dropped
      entry.progress = toJobProgress(p);
      this.emit('job:progress', { jobId: id, kind, progress: entry.progress });
      this.activity();
    };
    entry.done = (async (): Promise<JobOutcome> => {
      let outcome: JobOutcome;
      try {
        // yield first so the caller gets the id before any event
        await Promise.resolve();
        const value = await run({ signal: controller.signal, onProgress });
        outcome = controller.signal.aborted ? failed(kind, cancelledError()) : succeeded(kind, value);
      } catch (error) {
        const e = controller.signal.aborted ? cancelledError() : toAtlasError(error);
        outcome = failed(kind, e);
      }
      this.jobs.delete(id);
      this.emit('job:finished', { jobId: id, outcome });
      this.activity();
      return outcome;
    })();
    this.jobs.set(id, entry);
    this.activity();
    return { jobId: id, done: entry.done };
  }

  cancel(jobId: string): boolean {
    const entry = this.jobs.get(jobId);
    if (!entry || entry.controller.signal.aborted) return false;
    entry.controller.abort();
    return true;
  }

  list(): ActiveJob[] {
    return [...this.jobs.values()].map(({ id, kind, devices, progress }) => ({
      id,
      kind,
      devices,
      progress,
    }));
  }

  /** Cancels everything and waits for the outcomes (the app is quitting). */
  async cancelAll(): Promise<void> {
    const pending = [...this.jobs.values()];
    for (const e of pending) e.controller.abort();
    await Promise.all(pending.map((e) => e.done));
  }

  private busyDevices(): Set<string> {
    return new Set([...this.jobs.values()].flatMap((e) => e.devices));
  }

  private activity(): void {
    this.onActivity(this.list());
  }
}

function succeeded<K extends JobKind>(kind: K, value: JobValues[K]): JobOutcome {
  return widen<K>({ ok: true, kind, value });
}

function failed<K extends JobKind>(kind: K, e: AtlasError): JobOutcome {
  const cards = everyCardsError(e);
  return widen<K>({
    ok: false,
    kind,
    error: { code: e.code, message: e.message, ...(cards ? { cards } : {}) },
  });
}

/** The cards of a job that failed on every one, each with its own error (card-board.ts everyCardResults). */
function everyCardsError(e: AtlasError): ErrorDTO['cards'] | null {
  const cards = (everyCardResults<{ device: string; error?: { message?: unknown } }>(e) ?? []).map((t) => ({
    device: t.device,
    message: typeof t.error?.message === 'string' ? t.error.message : 'no reason was given',
  }));
  return cards.length > 0 ? cards : null;
}

/**
 * An outcome of some kind K is an outcome of a kind: TypeScript cannot see that for a generic K (it does not
 * distribute the union over K), so this is the one place that says so.
 */
function widen<K extends JobKind>(outcome: OutcomeOf<K>): JobOutcome {
  return outcome as JobOutcome;
}

export function cancelledError(): AtlasError {
  return new AtlasError('CANCELLED', 'The operation was cancelled.');
}

function toJobProgress(p: Progress): JobProgress {
  return {
    stage: p.stage,
    bytesDone: p.bytesDone,
    bytesTotal: p.bytesTotal,
    rate: p.rate,
    etaSeconds: p.etaSeconds,
    ...(p.detail ? { detail: p.detail } : {}),
    ...(p.cards
      ? {
          cards: p.cards.map((c) => ({
            device: c.device,
            state: c.state,
            bytesDone: c.bytesDone,
            bytesTotal: c.bytesTotal,
            ...(c.error ? { error: { code: c.error.code, message: c.error.message } } : {}),
          })),
        }
      : {}),
  };
}
