/**
 * The jobs the elevated helper can run, by name. Options arrive as JSON from the app: each runner checks
 * their shape and must re-check anything that decides what gets written (the helper trusts nothing it is sent).
 * Register device jobs in jobs.ts.
 */
import { AtlasError } from '../engine/errors';
import type { JobControl } from '../engine/progress';

/** Runs one job; the result must be JSON-serializable. */
export type HelperJobRunner = (options: unknown, control: JobControl) => Promise<unknown>;

const registry = new Map<string, HelperJobRunner>();

export function registerHelperJob(name: string, run: HelperJobRunner): void {
  if (registry.has(name)) throw new AtlasError('INTERNAL', `Helper job "${name}" is registered twice.`);
  registry.set(name, run);
}

export function getHelperJob(name: string): HelperJobRunner {
  const run = registry.get(name);
  if (!run) throw new AtlasError('INVALID_ARGUMENT', `The helper has no job named "${name}".`);
  return run;
}

export function helperJobNames(): string[] {
  return [...registry.keys()];
}
