/** The Insert (Phase 0) wizard's inputs and job. */
import { create } from 'zustand';
import type { ErrorDTO } from '../../../main/contract';
import { call, toErrorDTO } from '../api';
import { isValidTag, parseGoldenNumber } from '../format';
import { startJob } from './jobs';

export type InsertFile = 'base' | 'firstboot' | 'service' | 'secrets';

interface InsertState {
  files: Record<InsertFile, string>;
  version: string;
  patch: string;
  tag: string;
  jobId: string | null;
  startError: ErrorDTO | null;
  setFile(which: InsertFile, path: string): void;
  setField(field: 'version' | 'patch' | 'tag', value: string): void;
  start(): Promise<void>;
  reset(): void;
}

export const useInsert = create<InsertState>()((set, get) => ({
  files: { base: '', firstboot: '', service: '', secrets: '' },
  version: '',
  patch: '0',
  tag: '',
  jobId: null,
  startError: null,
  setFile: (which, path) => {
    set((s) => ({ files: { ...s.files, [which]: path } }));
    // the base's hash (2 GiB read) starts now, while the other files are picked; a refusal shows at Insert
    if (which === 'base' && path) void call('insert:prepare-base', { base: path }).catch(() => undefined);
  },
  setField: (field, value) => set({ [field]: value } as Pick<InsertState, typeof field>),
  async start() {
    const s = get();
    set({ startError: null });
    try {
      const jobId = await startJob('insert:start', {
        ...s.files,
        version: Number(s.version),
        patch: Number(s.patch),
        tag: s.tag,
      });
      set({ jobId });
    } catch (error) {
      set({ startError: toErrorDTO(error) });
    }
  },
  reset: () => set({ jobId: null, startError: null }),
}));

/** What still stands between the form and the Build button, in the order the form asks. */
export function insertProblems(s: Pick<InsertState, 'files' | 'version' | 'patch' | 'tag'>): string[] {
  const problems: string[] = [];
  if (!s.files.base) problems.push('Choose the base Armbian image.');
  if (!s.files.firstboot) problems.push('Choose atlas_firstboot.sh.');
  if (!s.files.service) problems.push('Choose atlas-firstboot.service.');
  if (!s.files.secrets) problems.push('Choose atlas_secrets.conf.');
  if (parseGoldenNumber(s.version) === null) problems.push('Enter the version N (a whole number).');
  if (parseGoldenNumber(s.patch) === null) problems.push('Enter the patch P (a whole number).');
  if (!s.tag) problems.push('Enter a tag.');
  else if (!isValidTag(s.tag))
    problems.push('The tag cannot be used in a file name (see the rule below it).');
  return problems;
}
