/** The Clone (Phase 1) wizard: source card, tag, folder, job. */
import { create } from 'zustand';
import type { Drive, ErrorDTO } from '../../../main/contract';
import { toErrorDTO } from '../api';
import { startJob } from './jobs';

interface CloneState {
  source: string | null;
  tag: string;
  /** null: the build folder from the settings */
  outDir: string | null;
  jobId: string | null;
  startError: ErrorDTO | null;
  /** the Phase rule's override: clone a card that never booted, as a safety net (asked after a refusal) */
  allowUnbooted: boolean;
  setAllowUnbooted(allow: boolean): void;
  /** the vault copy of the clone just made */
  archiveJobId: string | null;
  archiveError: ErrorDTO | null;
  archive(folderName: string): Promise<void>;
  choose(device: string): void;
  setTag(tag: string): void;
  setOutDir(dir: string | null): void;
  start(drive: Drive): Promise<void>;
  reset(): void;
  /** the drive list changed: a source card that left is no longer chosen */
  dropGone(drives: Drive[]): void;
}

export const useClone = create<CloneState>()((set, get) => ({
  source: null,
  tag: '',
  outDir: null,
  jobId: null,
  startError: null,
  allowUnbooted: false,
  setAllowUnbooted: (allowUnbooted) => set({ allowUnbooted }),
  archiveJobId: null,
  archiveError: null,
  async archive(folderName) {
    set({ archiveError: null });
    try {
      set({ archiveJobId: await startJob('vault:sync', { items: [folderName] }) });
    } catch (error) {
      set({ archiveError: toErrorDTO(error) });
    }
  },
  choose: (source) => set({ source, allowUnbooted: false }),
  setTag: (tag) => set({ tag }),
  setOutDir: (outDir) => set({ outDir }),
  async start(drive) {
    const { tag, outDir, allowUnbooted } = get();
    set({ startError: null });
    try {
      const jobId = await startJob('clone:start', {
        source: { device: drive.device, size: drive.size, serial: drive.serial },
        tag,
        ...(outDir ? { outDir } : {}),
        ...(allowUnbooted ? { allowUnbooted } : {}),
      });
      set({ jobId });
    } catch (error) {
      set({ startError: toErrorDTO(error) });
    }
  },
  dropGone(drives) {
    const { source, jobId } = get();
    if (!jobId && source && !drives.some((d) => d.device === source)) set({ source: null });
  },
  reset: () =>
    set({ jobId: null, startError: null, archiveJobId: null, archiveError: null, allowUnbooted: false }),
}));
