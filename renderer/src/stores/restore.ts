/**
 * The Restore page: a clone folder (from the Library's clones, or picked), verified first, then one or several
 * cards, what the restore is for (roll back / deploy, with the hostname pattern), an optional check of each card,
 * and the running job.
 */
import { create } from 'zustand';
import type { CloneInfo, Drive, ErrorDTO, RestoreIntent } from '../../../main/contract';
import { DEFAULT_HOSTNAME_PATTERN, defaultIntent } from '../../../main/shared/restore-intents';
import { batchNames, type GivenHostname } from '../../../main/shared/hostnames';
import { call, toErrorDTO } from '../api';
import { startJob, useJobs } from './jobs';
import { afterDrivesChanged } from './card-selection';

/** A card check started from this page: its job, or why it could not start. */
export interface CardCheck {
  jobId: string | null;
  error: ErrorDTO | null;
}

interface RestoreState {
  folder: string;
  /** what the chosen folder needs of a card (read from its dump), or why it cannot be restored */
  info: CloneInfo | null;
  folderError: ErrorDTO | null;
  verifyJobId: string | null;
  /** devices of the chosen cards, in the order chosen (a deploy numbers them so) */
  selected: string[];
  /** what the person chose; null: the default for the number of cards (defaultIntent) */
  chosenIntent: RestoreIntent | null;
  hostnamePattern: string;
  grow: boolean;
  /** device → its "Check this card" run */
  checks: Record<string, CardCheck>;
  confirming: boolean;
  /** the cards as the person saw them in the confirm dialog: what main checks before writing */
  confirmed: Drive[];
  /** confirmed cards pulled out while the dialog was open: shown as removed, never written */
  removed: Drive[];
  /** the intent as the dialog showed it (a card pulled out then does not change it) */
  confirmedIntent: RestoreIntent;
  /** the hostnames given before, as the dialog numbered the cards from them (main refuses names that moved on) */
  confirmedGiven: GivenHostname[];
  jobId: string | null;
  startError: ErrorDTO | null;
  setFolder(folder: string): Promise<void>;
  verify(): Promise<void>;
  toggle(device: string): void;
  setIntent(intent: RestoreIntent): void;
  setHostnamePattern(pattern: string): void;
  setGrow(grow: boolean): void;
  /** starts "Check this card" on each of these cards that is not being checked already */
  checkCards(drives: Drive[]): Promise<void>;
  openConfirm(drives: Drive[], given: GivenHostname[]): void;
  closeConfirm(): void;
  start(): Promise<void>;
  reset(): void;
  /** the drive list changed: a card that left is no longer chosen, and leaves the open confirmation */
  dropGone(drives: Drive[]): void;
  /** back to the form after a failure, with the same folder and cards */
  retry(): void;
}

/** The intent a restore of `cards` cards runs with: the person's choice, or the default for that many. */
export function effectiveIntent(chosen: RestoreIntent | null, cards: number): RestoreIntent {
  return chosen ?? defaultIntent(cards);
}

export const useRestore = create<RestoreState>()((set, get) => ({
  folder: '',
  info: null,
  folderError: null,
  verifyJobId: null,
  selected: [],
  chosenIntent: null,
  hostnamePattern: DEFAULT_HOSTNAME_PATTERN,
  grow: true,
  checks: {},
  confirming: false,
  confirmed: [],
  removed: [],
  confirmedIntent: 'exact',
  confirmedGiven: [],
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
  toggle(device) {
    const { selected } = get();
    set({
      selected: selected.includes(device) ? selected.filter((d) => d !== device) : [...selected, device],
    });
  },
  setIntent: (chosenIntent) => set({ chosenIntent }),
  setHostnamePattern: (hostnamePattern) => set({ hostnamePattern }),
  setGrow: (grow) => set({ grow }),
  async checkCards(drives) {
    for (const d of drives) {
      const current = get().checks[d.device];
      if (current?.jobId && !current.error) {
        // a check already ran or runs for this card: "Check again" replaces it only once it ended
        if (!useJobs.getState().jobs[current.jobId]?.outcome) continue;
      }
      try {
        const jobId = await startJob('card:check', {
          target: { device: d.device, size: d.size, serial: d.serial },
        });
        set((s) => ({ checks: { ...s.checks, [d.device]: { jobId, error: null } } }));
      } catch (error) {
        set((s) => ({ checks: { ...s.checks, [d.device]: { jobId: null, error: toErrorDTO(error) } } }));
      }
    }
  },
  openConfirm(drives, given) {
    // in the order the person chose them: a deploy numbers the cards so
    const chosen = get()
      .selected.map((device) => drives.find((d) => d.device === device))
      .filter((d): d is Drive => d !== undefined);
    const confirmedIntent = effectiveIntent(get().chosenIntent, chosen.length);
    set({
      confirming: true,
      confirmed: chosen,
      confirmedIntent,
      confirmedGiven: given,
      removed: [],
      startError: null,
    });
  },
  closeConfirm: () => set({ confirming: false }),
  async start() {
    const s = get();
    if (s.confirmed.length === 0) return;
    const intent = s.confirmedIntent;
    set({ confirming: false, startError: null });
    try {
      const jobId = await startJob('restore:start', {
        folder: s.folder,
        targets: s.confirmed.map((d) => ({ device: d.device, size: d.size, serial: d.serial })),
        intent,
        ...(intent === 'deploy'
          ? {
              hostnamePattern: s.hostnamePattern,
              hostnames: confirmedNames(s),
            }
          : {}),
        grow: s.grow,
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
  reset: () =>
    set({
      jobId: null,
      startError: null,
      confirmed: [],
      removed: [],
      selected: [],
      confirming: false,
      checks: {},
    }),
}));

/** The hostnames the confirm dialog shows for the confirmed cards, and the ones main is asked to give them. */
export function confirmedNames(
  s: Pick<RestoreState, 'hostnamePattern' | 'confirmed' | 'confirmedGiven'>,
): string[] {
  return batchNames(
    s.hostnamePattern,
    s.confirmed.map((d) => d.serial),
    s.confirmedGiven,
  );
}
