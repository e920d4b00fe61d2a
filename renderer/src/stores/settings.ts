import { create } from 'zustand';
import type { ErrorDTO, Settings } from '../../../main/contract';
import { call, toErrorDTO } from '../api';

interface SettingsState {
  settings: Settings | null;
  error: ErrorDTO | null;
  load(): Promise<void>;
  update(change: Partial<Settings>): Promise<void>;
}

export const useSettings = create<SettingsState>()((set) => ({
  settings: null,
  error: null,
  async load() {
    try {
      set({ settings: await call('settings:get', {}), error: null });
    } catch (error) {
      set({ error: toErrorDTO(error) });
    }
  },
  async update(change) {
    try {
      set({ settings: await call('settings:set', change), error: null });
    } catch (error) {
      set({ error: toErrorDTO(error) });
    }
  },
}));
