/**
 * The two things a restore is for, as the app names them (issue 13): rolling a device back to its clone, or
 * deploying the clone to new devices, each made a device of its own. Pure: the Restore page shows these words, the
 * handler and the page share the default.
 */
import type { RestoreIntent } from '../contract';

export const INTENT_NAMES: Record<RestoreIntent, string> = {
  exact: 'Roll back this device',
  deploy: 'Deploy to new devices',
};

/** What each intent does, in one sentence for the person choosing. */
export const INTENT_SENTENCES: Record<RestoreIntent, string> = {
  exact:
    'An exact copy of the clone: the card comes back as the device it was cloned from, with its hostname, machine ID and SSH keys.',
  deploy:
    'Each card becomes a device of its own: after it verified, its machine ID is emptied, its SSH host keys are made anew at first boot and it gets its own hostname.',
};

/** Several cards are new devices unless the person says otherwise; one card is most often a roll-back. */
export function defaultIntent(cards: number): RestoreIntent {
  return cards > 1 ? 'deploy' : 'exact';
}

/** The hostname pattern offered first (main/shared/hostnames.ts): atlas-001, atlas-002, … */
export const DEFAULT_HOSTNAME_PATTERN = 'atlas-{n:03}';
