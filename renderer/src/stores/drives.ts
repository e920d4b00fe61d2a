/** The live drive list: loaded once, then kept current by `drives:changed` events. */
import { create } from 'zustand';
import type { Drive, ErrorDTO } from '../../../main/contract';
import { call, subscribe, toErrorDTO } from '../api';

interface DrivesState {
  drives: Drive[];
  loaded: boolean;
  error: ErrorDTO | null;
  /** show the system and virtual disks that are hidden by default */
  showAll: boolean;
  setShowAll(showAll: boolean): void;
  refresh(): Promise<void>;
  /** starts listening for changes; returns the stop function */
  watch(): () => void;
}

export const useDrives = create<DrivesState>()((set) => ({
  drives: [],
  loaded: false,
  error: null,
  showAll: false,
  setShowAll: (showAll) => set({ showAll }),
  async refresh() {
    try {
      set({ drives: await call('drives:list', {}), loaded: true, error: null });
    } catch (error) {
      set({ loaded: true, error: toErrorDTO(error) });
    }
  },
  watch() {
    return subscribe('drives:changed', ({ drives }) => set({ drives, loaded: true, error: null }));
  },
}));

/** Hidden unless "show all": disks the app never writes to. */
export function isHiddenDrive(drive: Drive): boolean {
  return drive.system || drive.virtual;
}
