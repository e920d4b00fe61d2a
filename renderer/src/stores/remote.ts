/** The remote build folders' listings on the Library page, one per folder (fetched over ssh by main). */
import { create } from 'zustand';
import type { ErrorDTO, RemoteListing } from '../../../main/contract';
import { call, toErrorDTO } from '../api';

interface RemoteFolderView {
  listing: RemoteListing | null;
  loading: boolean;
  error: ErrorDTO | null;
}

interface RemoteState {
  folders: Record<string, RemoteFolderView>;
  list(folder: string): Promise<void>;
}

export const EMPTY_VIEW: RemoteFolderView = { listing: null, loading: false, error: null };

export const useRemote = create<RemoteState>()((set) => ({
  folders: {},
  async list(folder) {
    const patch = (view: Partial<RemoteFolderView>): void =>
      set((s) => ({
        folders: { ...s.folders, [folder]: { ...(s.folders[folder] ?? EMPTY_VIEW), ...view } },
      }));
    patch({ loading: true, error: null });
    try {
      patch({ listing: await call('remote:list', { folder }), loading: false });
    } catch (error) {
      patch({ error: toErrorDTO(error), loading: false });
    }
  },
}));
