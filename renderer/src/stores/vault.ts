/** The vault's jobs started from the Library page: the sync preview (a dry run), the sync, and verify. */
import { create } from 'zustand';
import type { ErrorDTO } from '../../../main/contract';
import { toErrorDTO } from '../api';
import { startJob } from './jobs';

export type VaultAction = 'preview' | 'sync' | 'verify';

interface VaultState {
  /** the last job of each action */
  jobs: Record<VaultAction, string | null>;
  /** a refusal before the job started (validation, not available) */
  error: ErrorDTO | null;
  start(action: VaultAction): Promise<void>;
}

export const useVault = create<VaultState>()((set) => ({
  jobs: { preview: null, sync: null, verify: null },
  error: null,
  async start(action) {
    set({ error: null });
    try {
      const jobId =
        action === 'verify'
          ? await startJob('vault:verify', {})
          : await startJob('vault:sync', { dryRun: action === 'preview' });
      set((s) => ({
        jobs: { ...s.jobs, [action]: jobId, ...(action === 'preview' ? { sync: null } : {}) },
      }));
    } catch (error) {
      set({ error: toErrorDTO(error) });
    }
  },
}));
