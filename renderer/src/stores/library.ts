/** The Library listing and the verify runs started from it. */
import { create } from 'zustand';
import type { ErrorDTO, LibraryListing } from '../../../main/contract';
import { call, toErrorDTO } from '../api';
import { startJob } from './jobs';

interface LibraryState {
  listing: LibraryListing | null;
  loading: boolean;
  error: ErrorDTO | null;
  /** path → the verify job started for it, or the refusal */
  verifying: Record<string, { jobId: string | null; error: ErrorDTO | null }>;
  load(): Promise<void>;
  verify(path: string): Promise<void>;
}

export const useLibrary = create<LibraryState>()((set) => ({
  listing: null,
  loading: false,
  error: null,
  verifying: {},
  async load() {
    set({ loading: true });
    try {
      set({ listing: await call('library:list', {}), error: null, loading: false });
    } catch (error) {
      set({ error: toErrorDTO(error), loading: false });
    }
  },
  async verify(path) {
    try {
      const jobId = await startJob('verify:start', { path });
      set((s) => ({ verifying: { ...s.verifying, [path]: { jobId, error: null } } }));
    } catch (error) {
      set((s) => ({ verifying: { ...s.verifying, [path]: { jobId: null, error: toErrorDTO(error) } } }));
    }
  },
}));
