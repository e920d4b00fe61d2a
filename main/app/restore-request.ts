/**
 * The restore request's own checks (restore:start): its shape, the intent, 1–16 distinct cards, and for a deploy a
 * hostname pattern that gives every card a valid hostname of its own. The cards themselves are resolved and
 * checked against the target rules by the handler, which knows the drive list.
 */
import { AtlasError } from '../engine/errors';
import type { Drive, DriveSnapshot, RestoreIntent } from '../contract';
import { hostnamePatternProblem, hostnamesFor, type GivenHostname } from '../shared/hostnames';
import * as v from './validate';

export const MAX_RESTORE_CARDS = 16;

export interface RestoreRequestChecked {
  folder: string;
  confirmed: DriveSnapshot[];
  intent: RestoreIntent;
  /** deploy only */
  hostnamePattern: string | null;
  /** deploy only: the hostnames the person was shown, when the page sent them */
  shown: string[] | null;
  grow: boolean;
}

export function checkRestoreRequest(request: unknown): RestoreRequestChecked {
  const o = v.onlyKeys(v.object(request), [
    'folder',
    'targets',
    'intent',
    'hostnamePattern',
    'hostnames',
    'grow',
  ]);
  const folder = v.path(o.folder, 'The clone folder');
  if (o.intent !== 'exact' && o.intent !== 'deploy') {
    throw new AtlasError(
      'INVALID_ARGUMENT',
      'Choose whether to roll back a device or deploy to new devices.',
    );
  }
  const intent: RestoreIntent = o.intent;
  if (!Array.isArray(o.targets) || o.targets.length === 0) {
    throw new AtlasError('INVALID_ARGUMENT', 'Choose at least one card to restore onto.');
  }
  if (o.targets.length > MAX_RESTORE_CARDS) {
    throw new AtlasError(
      'INVALID_ARGUMENT',
      `At most ${MAX_RESTORE_CARDS} cards can be restored at once; you chose ${o.targets.length}.`,
    );
  }
  const confirmed = o.targets.map((t, i) => v.snapshot(t, `Card ${i + 1}`));
  const seen = new Set<string>();
  for (const c of confirmed) {
    if (seen.has(c.device)) throw new AtlasError('INVALID_ARGUMENT', `${c.device} is listed twice.`);
    seen.add(c.device);
  }
  let hostnamePattern: string | null = null;
  let shown: string[] | null = null;
  if (o.hostnames !== undefined) {
    if (intent !== 'deploy' || !Array.isArray(o.hostnames) || o.hostnames.length !== confirmed.length) {
      throw new AtlasError('INVALID_ARGUMENT', 'The hostnames shown must be one per card of a deploy.');
    }
    shown = o.hostnames.map((h, i) => v.string(h, `Card ${i + 1}'s hostname`, 63));
  }
  if (intent === 'deploy') {
    const pattern =
      o.hostnamePattern === undefined ? '' : v.string(o.hostnamePattern, 'The hostname pattern', 256);
    const problem = hostnamePatternProblem(pattern);
    if (problem) throw new AtlasError('INVALID_ARGUMENT', problem);
    hostnamePattern = pattern;
  } else if (o.hostnamePattern !== undefined) {
    throw new AtlasError(
      'INVALID_ARGUMENT',
      'Rolling back a device keeps its own hostname: a hostname pattern is only for deploying to new devices.',
    );
  }
  return { folder, confirmed, intent, hostnamePattern, shown, grow: v.boolean(o.grow, 'Grow root') };
}

/**
 * Each card's hostname, in the order the person chose the cards, numbered on from the hostnames earlier deploys
 * gave (`given`, from the deployment record); a pattern that collides or fails is refused.
 */
export function restoreHostnames(
  pattern: string | null,
  cards: readonly Drive[],
  given: readonly GivenHostname[] = [],
): string[] | null {
  if (pattern === null) return null;
  try {
    return hostnamesFor(
      pattern,
      cards.map((c) => c.serial),
      given,
    );
  } catch (error) {
    throw new AtlasError('INVALID_ARGUMENT', error instanceof Error ? error.message : String(error));
  }
}
