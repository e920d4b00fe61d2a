/** The Insert (Phase 0) wizard's inputs and job. */
import { create } from 'zustand';
import type { ErrorDTO, InsertField, InsertFieldProblem } from '../../../main/contract';
import { call, toErrorDTO } from '../api';
import { isValidTag, parseGoldenNumber } from '../format';
import { startJob } from './jobs';

export type InsertFile = 'base' | 'firstboot' | 'service' | 'secrets';

interface InsertState {
  files: Record<InsertFile, string>;
  version: string;
  patch: string;
  tag: string;
  /** replace an existing golden image of the same name */
  replace: boolean;
  /** what main found wrong with the inputs picked so far (checked as each is picked), the base aside */
  checked: InsertFieldProblem[];
  /** what main found wrong with the base: checked on its own, as recognising an archive takes a moment */
  baseChecked: InsertFieldProblem[];
  /** the base is being looked at (an archive is decoded as far as recognition needs) */
  checkingBase: boolean;
  jobId: string | null;
  startError: ErrorDTO | null;
  setFile(which: InsertFile, path: string): void;
  setField(field: 'version' | 'patch' | 'tag', value: string): void;
  setReplace(replace: boolean): void;
  /** asks main to check every input picked so far but the base; a reply to an older request is dropped */
  check(): Promise<void>;
  /** asks main to recognise the base; choosing another base cancels the check of the one before */
  checkBase(): Promise<void>;
  start(): Promise<void>;
  reset(): void;
}

let checks = 0;
let baseChecks = 0;

export const useInsert = create<InsertState>()((set, get) => ({
  files: { base: '', firstboot: '', service: '', secrets: '' },
  version: '',
  patch: '0',
  tag: '',
  replace: false,
  checked: [],
  baseChecked: [],
  checkingBase: false,
  jobId: null,
  startError: null,
  setFile: (which, path) => {
    set((s) => ({ files: { ...s.files, [which]: path } }));
    // the base's hash (2 GiB read) starts now, while the other files are picked; a refusal shows at Insert
    if (which === 'base' && path) void call('insert:prepare-base', { base: path }).catch(() => undefined);
    void (which === 'base' ? get().checkBase() : get().check());
  },
  setField: (field, value) => {
    set({ [field]: value } as Pick<InsertState, typeof field>);
    void get().check();
  },
  setReplace: (replace) => {
    set({ replace });
    void get().check();
  },
  async check() {
    const s = get();
    const seq = ++checks;
    const version = parseGoldenNumber(s.version);
    const patch = parseGoldenNumber(s.patch);
    try {
      // the base apart (checkBase): the other fields' answers need not wait for an archive to be looked into
      const checked = await call('insert:check', {
        firstboot: s.files.firstboot,
        service: s.files.service,
        secrets: s.files.secrets,
        ...(version !== null ? { version } : {}),
        ...(patch !== null ? { patch } : {}),
        ...(s.tag ? { tag: s.tag } : {}),
        force: s.replace,
      });
      if (seq === checks) set({ checked });
    } catch {
      // the check is a courtesy: Build checks everything again and says what is wrong
      if (seq === checks) set({ checked: [] });
    }
  },
  async checkBase() {
    const base = get().files.base;
    const seq = ++baseChecks;
    // main cancels the recognition of a base no longer chosen when it is asked about another
    set({ baseChecked: [], checkingBase: base !== '' });
    if (!base) return;
    let baseChecked: InsertFieldProblem[] = [];
    try {
      baseChecked = await call('insert:check', { base });
    } catch {
      // a courtesy, as above
    }
    if (seq === baseChecks) set({ baseChecked, checkingBase: false });
  },
  async start() {
    const s = get();
    set({ startError: null });
    try {
      const jobId = await startJob('insert:start', {
        ...s.files,
        version: Number(s.version),
        patch: Number(s.patch),
        tag: s.tag,
        force: s.replace,
      });
      set({ jobId });
    } catch (error) {
      set({ startError: toErrorDTO(error) });
    }
  },
  reset: () => {
    set({ jobId: null, startError: null });
    // what the last build wrote may clash now
    void get().check();
  },
}));

/** Everything main found, the base's problems with the others'. */
export function allProblems(s: Pick<InsertState, 'checked' | 'baseChecked'>): readonly InsertFieldProblem[] {
  return [...s.baseChecked, ...s.checked];
}

/** The problem main found with one input (an error before a warning), or null. */
export function fieldProblem(
  checked: readonly InsertFieldProblem[],
  field: InsertField,
): InsertFieldProblem | null {
  const mine = checked.filter((p) => p.field === field);
  return mine.find((p) => p.severity === 'error') ?? mine[0] ?? null;
}

/** What still stands between the form and the Build button, in the order the form asks. */
export function insertProblems(
  s: Pick<InsertState, 'files' | 'version' | 'patch' | 'tag' | 'checked' | 'baseChecked'>,
): string[] {
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
  // what main found, said where each field is: the button points there
  if (allProblems(s).some((p) => p.severity === 'error')) problems.push('Fix the problems marked above.');
  return problems;
}
