/** The build folder's deployment record as the Library shows it; reloaded whenever a job ends. */
import { create } from 'zustand';
import type { DeploymentRecord, ErrorDTO } from '../../../main/contract';
import { call, subscribe, toErrorDTO } from '../api';

interface DeploymentsState {
  records: DeploymentRecord[] | null;
  error: ErrorDTO | null;
  load(): Promise<void>;
  /** loads now and again after every job; returns the stop function */
  watch(): () => void;
}

export const useDeployments = create<DeploymentsState>()((set, get) => ({
  records: null,
  error: null,
  async load() {
    try {
      set({ records: await call('deploy:list', {}), error: null });
    } catch (error) {
      set({ error: toErrorDTO(error) });
    }
  },
  watch() {
    void get().load();
    return subscribe('job:finished', () => void get().load());
  },
}));
