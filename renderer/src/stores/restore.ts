/** The Restore wizard: a clone folder, verified first, then a card. */
import { create } from 'zustand';
import type { CloneInfo, Drive, ErrorDTO } from '../../../main/contract';
import { call, toErrorDTO } from '../api';
import { startJob } from './jobs';
import { sameCard } from './flash';

interface RestoreState {
  folder: string;
  /** what the chosen folder needs of a card (read from its dump), or why it cannot be restored */
  info: CloneInfo | null;
  folderError: ErrorDTO | null;
  verifyJobId: string | null;
  target: string | null;
  grow: boolean;
  confirming: boolean;
  confirmed: Drive | null;
  /** the confirmed card was pulled out while the dialog was open */
  confirmedGone: boolean;
  jobId: string | null;
  startError: ErrorDTO | null;
  setFolder(folder: string): Promise<void>;
  verify(): Promise<void>;
  choose(device: string): void;
  setGrow(grow: boolean): void;
  openConfirm(drive: Drive): void;
  closeConfirm(): void;
  start(): Promise<void>;
  reset(): void;
  /** the drive list changed: a card that left is no longer chosen, and cannot be confirmed */
  dropGone(drives: Drive[]): void;
  /** back to the form after a failure, with the same folder and card */
  retry(): void;
}

export const useRestore = create<RestoreState>()((set, get) => ({
  folder: '',
  info: null,
  folderError: null,
  verifyJobId: null,
  target: null,
  grow: true,
  confirming: false,
  confirmed: null,
  confirmedGone: false,
  jobId: null,
  startError: null,
  async setFolder(folder) {
    set({ folder, info: null, folderError: null, verifyJobId: null, startError: null });
    if (!folder) return;
    try {
      const info = await call('clone:inspect', { folder });
      if (get().folder === folder) set({ info });
    } catch (error) {
      if (get().folder === folder) set({ folderError: toErrorDTO(error) });
    }
  },
  async verify() {
    set({ startError: null });
    try {
      set({ verifyJobId: await startJob('verify:start', { path: get().folder }) });
    } catch (error) {
      set({ startError: toErrorDTO(error) });
    }
  },
  choose: (target) => set({ target }),
  setGrow: (grow) => set({ grow }),
  openConfirm: (drive) => set({ confirming: true, confirmed: drive, confirmedGone: false }),
  dropGone(drives) {
    const { target, confirmed, confirming, jobId } = get();
    if (jobId) return;
    if (target && !drives.some((d) => d.device === target)) set({ target: null });
    if (confirming && confirmed && !drives.some((d) => sameCard(confirmed, d))) set({ confirmedGone: true });
  },
  closeConfirm: () => set({ confirming: false }),
  async start() {
    const { folder, confirmed, grow } = get();
    if (!confirmed) return;
    set({ confirming: false, startError: null });
    try {
      const jobId = await startJob('restore:start', {
        folder,
        targets: [{ device: confirmed.device, size: confirmed.size, serial: confirmed.serial }],
        intent: 'exact',
        grow,
      });
      set({ jobId });
    } catch (error) {
      set({ startError: toErrorDTO(error) });
    }
  },
  retry: () => set({ jobId: null, startError: null, confirming: false }),
  reset: () => set({ jobId: null, startError: null, confirmed: null, target: null }),
}));
