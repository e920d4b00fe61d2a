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
  /** preview and sync compare what the vault already holds by sha256 (the engine's default: off) */
  checksum: boolean;
  /** a new comparison: the preview made with the old one no longer stands for the sync */
  setChecksum(checksum: boolean): void;
  start(action: VaultAction): Promise<void>;
}

export const useVault = create<VaultState>()((set, get) => ({
  jobs: { preview: null, sync: null, verify: null },
  error: null,
  checksum: false,
  setChecksum: (checksum) => set((s) => ({ checksum, jobs: { ...s.jobs, preview: null } })),
  async start(action) {
    set({ error: null });
    try {
      const jobId =
        action === 'verify'
          ? await startJob('vault:verify', {})
          : await startJob('vault:sync', { dryRun: action === 'preview', checksum: get().checksum });
      set((s) => ({
        jobs: { ...s.jobs, [action]: jobId, ...(action === 'preview' ? { sync: null } : {}) },
      }));
    } catch (error) {
      set({ error: toErrorDTO(error) });
    }
  },
}));
