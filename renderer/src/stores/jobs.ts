/** Every job the UI started: its progress and its single outcome, fed by the job events. */
import { create } from 'zustand';
import type { JobKind, JobOutcome, JobProgress, JobStarted } from '../../../main/contract';
import { call, subscribe } from '../api';

export interface JobView {
  id: string;
  kind: JobKind;
  progress: JobProgress | null;
  outcome: JobOutcome | null;
  cancelling: boolean;
}

interface JobsState {
  jobs: Record<string, JobView>;
  track(started: JobStarted): void;
  cancel(jobId: string): Promise<void>;
  watch(): () => void;
}

export const useJobs = create<JobsState>()((set, get) => ({
  jobs: {},
  track({ jobId, kind }) {
    set((s) => ({
      jobs: {
        ...s.jobs,
        [jobId]: s.jobs[jobId] ?? { id: jobId, kind, progress: null, outcome: null, cancelling: false },
      },
    }));
  },
  async cancel(jobId) {
    const job = get().jobs[jobId];
    if (!job || job.outcome) return;
    set((s) => ({ jobs: { ...s.jobs, [jobId]: { ...job, cancelling: true } } }));
    await call('job:cancel', { jobId });
  },
  watch() {
    const offProgress = subscribe('job:progress', ({ jobId, kind, progress }) =>
      set((s) => {
        const job = s.jobs[jobId] ?? { id: jobId, kind, progress: null, outcome: null, cancelling: false };
        if (job.outcome) return s;
        return { jobs: { ...s.jobs, [jobId]: { ...job, progress } } };
      }),
    );
    const offFinished = subscribe('job:finished', ({ jobId, outcome }) =>
      set((s) => {
        const job = s.jobs[jobId] ?? {
          id: jobId,
          kind: outcome.kind,
          progress: null,
          outcome: null,
          cancelling: false,
        };
        return { jobs: { ...s.jobs, [jobId]: { ...job, outcome } } };
      }),
    );
    return () => {
      offProgress();
      offFinished();
    };
  },
}));

export function useJob(jobId: string | null): JobView | null {
  return useJobs((s) => (jobId ? (s.jobs[jobId] ?? null) : null));
}

type StartChannel =
  | 'flash:start'
  | 'insert:start'
  | 'clone:start'
  | 'restore:start'
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
