/** Every job the UI started: its progress and its single outcome, fed by the job events. */
import { create } from 'zustand';
import type { ErrorDTO, JobKind, JobOutcome, JobProgress, JobStarted } from '../../../main/contract';
import { call, subscribe, toErrorDTO } from '../api';

export interface JobView {
  id: string;
  kind: JobKind;
  progress: JobProgress | null;
  outcome: JobOutcome | null;
  cancelling: boolean;
  /** why the last cancel request was refused (the job runs on) */
  cancelError: ErrorDTO | null;
}

/** A job of kind K: its outcome has that kind's value type. */
export type JobViewOf<K extends JobKind> = JobView & { kind: K; outcome: JobOutcome<K> | null };

interface JobsState {
  jobs: Record<string, JobView>;
  track(started: JobStarted): void;
  /** asks main to cancel; never rejects (a refusal lands in the job's cancelError) */
  cancel(jobId: string): Promise<void>;
  watch(): () => void;
}

/** A job as first seen, by its start reply or its first event (whichever comes first). */
function emptyJob(id: string, kind: JobKind): JobView {
  return { id, kind, progress: null, outcome: null, cancelling: false, cancelError: null };
}

export const useJobs = create<JobsState>()((set, get) => ({
  jobs: {},
  track({ jobId, kind }) {
    set((s) => ({ jobs: { ...s.jobs, [jobId]: s.jobs[jobId] ?? emptyJob(jobId, kind) } }));
  },
  async cancel(jobId) {
    const job = get().jobs[jobId];
    if (!job || job.outcome) return;
    const update = (change: Partial<JobView>): void =>
      set((s) => {
        const current = s.jobs[jobId];
        return current ? { jobs: { ...s.jobs, [jobId]: { ...current, ...change } } } : s;
      });
    update({ cancelling: true, cancelError: null });
    try {
      await call('job:cancel', { jobId });
    } catch (error) {
      // main did not take the request: the job runs on, and the panel says why
      update({ cancelling: false, cancelError: toErrorDTO(error) });
    }
  },
  watch() {
    const offProgress = subscribe('job:progress', ({ jobId, kind, progress }) =>
      set((s) => {
        const job = s.jobs[jobId] ?? emptyJob(jobId, kind);
        if (job.outcome) return s;
        return { jobs: { ...s.jobs, [jobId]: { ...job, progress } } };
      }),
    );
    const offFinished = subscribe('job:finished', ({ jobId, outcome }) =>
      set((s) => {
        const job = s.jobs[jobId] ?? emptyJob(jobId, outcome.kind);
        return { jobs: { ...s.jobs, [jobId]: { ...job, outcome } } };
      }),
    );
    return () => {
      offProgress();
      offFinished();
    };
  },
}));

/** The job `jobId`, when there is one and it is of `kind`: its outcome then has that kind's value type. */
export function useJob<K extends JobKind>(jobId: string | null, kind: K): JobViewOf<K> | null {
  return useJobs((s) => {
    const job = jobId ? s.jobs[jobId] : undefined;
    return job && isOfKind(job, kind) ? job : null;
  });
}

/** The job `jobId`, whatever its kind (the progress panel shows every kind alike). */
export function useAnyJob(jobId: string | null): JobView | null {
  return useJobs((s) => (jobId ? (s.jobs[jobId] ?? null) : null));
}

function isOfKind<K extends JobKind>(job: JobView, kind: K): job is JobViewOf<K> {
  return job.kind === kind && (job.outcome === null || job.outcome.kind === kind);
}

type StartChannel =
  | 'flash:start'
  | 'insert:start'
  | 'clone:start'
  | 'restore:start'
  | 'card:check'
  | 'verify:start'
  | 'vault:sync'
  | 'vault:verify';

/** Starts a job and tracks it; rejects with the ApiError when main refuses the request. */
export async function startJob<C extends StartChannel>(
  channel: C,
  request: Parameters<typeof call<C>>[1],
): Promise<string> {
  const started = await call(channel, request);
  useJobs.getState().track(started);
  return started.jobId;
}
