/** The Library listing and the verify runs started from it. */
import { create } from 'zustand';
import type { ErrorDTO, LibraryEntry, LibraryListing } from '../../../main/contract';
import { call, toErrorDTO } from '../api';
import { startJob } from './jobs';

interface LibraryState {
  listing: LibraryListing | null;
  loading: boolean;
  error: ErrorDTO | null;
  /** path → the verify job started for it, or the refusal */
  verifying: Record<string, { jobId: string | null; error: ErrorDTO | null }>;
  /** path → why the file manager could not show it */
  showErrors: Record<string, ErrorDTO | null>;
  load(): Promise<void>;
  verify(path: string): Promise<void>;
  showInFolder(path: string): Promise<void>;
}

export const useLibrary = create<LibraryState>()((set) => ({
  listing: null,
  loading: false,
  error: null,
  verifying: {},
  showErrors: {},
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
  async showInFolder(path) {
    try {
      await call('shell:show-item', { path });
      set((s) => ({ showErrors: { ...s.showErrors, [path]: null } }));
    } catch (error) {
      set((s) => ({ showErrors: { ...s.showErrors, [path]: toErrorDTO(error) } }));
    }
  },
}));

/** One artifact as the Library shows it: its copies in the build folder and the vault, the build folder's first. */
export interface LibraryRow {
  /** the copy the row's actions use (the build folder's when there is one) */
  entry: LibraryEntry;
  copies: LibraryEntry[];
}

/** One row per artifact (same kind and name), wherever its copies live; the listing's order kept. */
export function libraryRows(entries: readonly LibraryEntry[]): LibraryRow[] {
  const rows = new Map<string, LibraryEntry[]>();
  for (const e of entries) {
    const key = `${e.kind}/${e.name}`;
    rows.set(key, [...(rows.get(key) ?? []), e]);
  }
  return [...rows.values()].map((copies) => {
    const sorted = [...copies].sort((a, b) =>
      a.location === b.location ? 0 : a.location === 'build' ? -1 : 1,
    );
    return { entry: sorted[0]!, copies: sorted };
  });
}

/** Where an artifact lives, in words. */
export function whereLabel(copies: readonly LibraryEntry[]): string {
  const build = copies.some((c) => c.location === 'build');
  const vault = copies.some((c) => c.location === 'vault');
  return build && vault ? 'Build folder and vault' : vault ? 'Vault' : 'Build folder';
}
