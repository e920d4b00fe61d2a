/**
 * The jobs the helper can run, by name. Options arrive as JSON from the app: `check` gives them their shape
 * (the broker trusts nothing it is sent), `cards` says which cards root opens for the job and how, and `run`
 * is the job itself, run by the worker as the person on the cards root opened. Register device jobs in jobs.ts.
 */
import { AtlasError } from '../engine/errors';
import type { CardAccess, ConfirmedDrive } from '../engine/drives/index';
import type { JobControl } from '../engine/progress';
import type { InheritedCard } from './protocol';

/** A card root opens for a job: checked against the target rules (or the clone-source rules) right before. */
export interface CardRequest {
  device: string;
  confirmed: ConfirmedDrive;
  /** target: written (flash, restore); source: only read (clone) */
  role: 'target' | 'source';
  /** O_DIRECT (flash) */
  direct: boolean;
  /** unmount its mounted partitions instead of refusing (a clone source; targets are always unmounted) */
  unmount: boolean;
  /** the image being written, so the card holding it is refused */
  sourcePath?: string;
}

export interface HelperJob<O = unknown> {
  check(raw: unknown): O;
  cards(options: O): CardRequest[];
  /** The result must be JSON-serializable. `cards` are what root opened, with what the drive list said. */
  run(options: O, access: CardAccess, control: JobControl, cards: readonly InheritedCard[]): Promise<unknown>;
}

const registry = new Map<string, HelperJob>();

export function registerHelperJob<O>(name: string, job: HelperJob<O>): void {
  if (registry.has(name)) throw new AtlasError('INTERNAL', `Helper job "${name}" is registered twice.`);
  registry.set(name, job as HelperJob);
}

export function getHelperJob(name: string): HelperJob {
  const job = registry.get(name);
  if (!job) throw new AtlasError('INVALID_ARGUMENT', `The helper has no job named "${name}".`);
  return job;
}

export function helperJobNames(): string[] {
  return [...registry.keys()];
}
