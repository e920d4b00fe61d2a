/** The operator's job log as the Library page shows it; reloaded whenever a job ends. */
import { create } from 'zustand';
import type { ErrorDTO, JobLogEntry } from '../../../main/contract';
import { call, subscribe, toErrorDTO } from '../api';

interface JobLogState {
  entries: JobLogEntry[] | null;
  error: ErrorDTO | null;
  load(): Promise<void>;
  /** loads now and again after every job; returns the stop function */
  watch(): () => void;
}

export const useJobLog = create<JobLogState>()((set, get) => ({
  entries: null,
  error: null,
  async load() {
    try {
      set({ entries: await call('log:list', {}), error: null });
    } catch (error) {
      set({ error: toErrorDTO(error) });
    }
  },
  watch() {
    void get().load();
    return subscribe('job:finished', () => void get().load());
  },
}));
