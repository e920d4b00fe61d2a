import { create } from 'zustand';

export type Page = 'home' | 'flash' | 'insert' | 'clone' | 'restore' | 'library';

interface NavState {
  page: Page;
  go(page: Page): void;
}

export const useNav = create<NavState>()((set) => ({
  page: 'home',
  go: (page) => set({ page }),
}));
