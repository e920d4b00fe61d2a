/** The Flash page: the chosen image, the chosen cards, and the running job. */
import { create } from 'zustand';
import type { Drive, ErrorDTO, ImageInfo } from '../../../main/contract';
import { call, toErrorDTO } from '../api';
import { startJob } from './jobs';
import { afterDrivesChanged } from './card-selection';

interface FlashState {
  image: ImageInfo | null;
  imageError: ErrorDTO | null;
  /** devices of the selected cards */
  selected: string[];
  verify: boolean;
  /** write only the blocks the filesystems use (raw images only) */
  usedBlocksOnly: boolean;
  confirming: boolean;
  /** the drives as the user saw them in the confirm dialog: what main checks before writing */
  confirmed: Drive[];
  /** confirmed cards pulled out while the dialog was open: shown as removed, never written */
  removed: Drive[];
  jobId: string | null;
  startError: ErrorDTO | null;
  chooseImage(path: string): Promise<void>;
  toggle(device: string): void;
  setVerify(verify: boolean): void;
  setUsedBlocksOnly(on: boolean): void;
  openConfirm(drives: Drive[]): void;
  closeConfirm(): void;
  start(): Promise<void>;
  reset(keepImage: boolean): void;
  /**
   * The drive list changed: a card that left is no longer chosen (and is not chosen again when it returns),
   * and leaves the open confirmation.
   */
  dropGone(drives: Drive[]): void;
  /** back to the form after a failure, with the same image and cards */
  retry(): void;
}

export const useFlash = create<FlashState>()((set, get) => ({
  image: null,
  imageError: null,
  selected: [],
  verify: true,
  usedBlocksOnly: false,
  confirming: false,
  confirmed: [],
  removed: [],
  jobId: null,
  startError: null,
  async chooseImage(path) {
    try {
      set({ image: await call('image:inspect', { path }), imageError: null });
    } catch (error) {
      set({ image: null, imageError: toErrorDTO(error) });
    }
  },
  toggle(device) {
    const { selected } = get();
    set({
      selected: selected.includes(device) ? selected.filter((d) => d !== device) : [...selected, device],
    });
  },
  setVerify: (verify) => set({ verify }),
  setUsedBlocksOnly: (usedBlocksOnly) => set({ usedBlocksOnly }),
  openConfirm(drives) {
    const chosen = drives.filter((d) => get().selected.includes(d.device));
    set({ confirming: true, confirmed: chosen, removed: [], startError: null });
  },
  closeConfirm: () => set({ confirming: false }),
  async start() {
    const { image, confirmed, verify, usedBlocksOnly } = get();
    if (!image || confirmed.length === 0) return;
    set({ confirming: false, startError: null });
    try {
      const jobId = await startJob('flash:start', {
        image: image.path,
        targets: confirmed.map((d) => ({ device: d.device, size: d.size, serial: d.serial })),
        verify,
        // only a raw image can be mapped; the page hides the option for archives
        usedBlocksOnly: usedBlocksOnly && image.format === 'img',
      });
      set({ jobId });
    } catch (error) {
      set({ startError: toErrorDTO(error) });
    }
  },
  dropGone(drives) {
    if (get().jobId) return;
    const next = afterDrivesChanged(get(), drives);
    if (next) set(next);
  },
  retry: () => set({ jobId: null, startError: null, confirming: false }),
  reset(keepImage) {
    set({
      jobId: null,
      startError: null,
      confirmed: [],
      selected: [],
      confirming: false,
      ...(keepImage ? {} : { image: null }),
    });
  },
}));
