/**
 * The hostname each deployed card gets, from a pattern the person types once for the whole batch:
 *   atlas-{n}       atlas-1, atlas-2, …           ({n} counts the cards of the batch, see below)
 *   atlas-{n:03}    atlas-001, atlas-002, …       (zero-padded to 3 digits)
 *   atlas-{serial}  atlas-3a7f19c2                 (the card's serial, lowercased, reduced to [a-z0-9-])
 * A batch's {n} starts one past the highest number the same pattern gave before (the deployment record's
 * hostnames), so a second batch of atlas-{n:03} goes on at atlas-005 instead of naming two kiosks atlas-001.
 * Pure: the Restore page previews the names with it, the CLI and the app's main process apply it.
 */
import type { DeploymentRecord } from '../contract';

/** One DNS label (RFC 1123): what /etc/hostname may hold for a kiosk found by name on the network. */
export const HOSTNAME_RULE = 'letters, digits and inner hyphens, at most 63 characters';
const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

export function isValidHostname(name: string): boolean {
  return LABEL.test(name);
}

const FIELD = /\{(n(?::0?(\d+))?|serial)\}/g;

export interface HostnameFields {
  /** the card's number: its place in the batch, counted from the batch's first number */
  n: number;
  serial: string | null;
}

/** What is wrong with a pattern, or null when it is good (checked on a sample card). */
export function hostnamePatternProblem(pattern: string): string | null {
  if (pattern.trim() === '') return 'Type a hostname pattern, for example atlas-{n:03}.';
  const unknown = pattern.replace(FIELD, '').match(/[{}]/);
  if (unknown) return 'The pattern knows only {n}, {n:03} and {serial}.';
  const sample = hostnameFor(pattern, { n: 1, serial: 'abc123' });
  if (!isValidHostname(sample)) {
    return `"${sample}" is not a hostname: use ${HOSTNAME_RULE}.`;
  }
  return null;
}

export function usesSerial(pattern: string): boolean {
  return pattern.includes('{serial}');
}

/** The hostname for one card; check it with isValidHostname (a card without a serial cannot fill {serial}). */
export function hostnameFor(pattern: string, fields: HostnameFields): string {
  return pattern
    .replace(FIELD, (_whole, field: string, width?: string) => {
      if (field === 'serial') {
        return (fields.serial ?? '')
          .toLowerCase()
          .replace(/[^a-z0-9]+/g, '-')
          .replace(/^-+|-+$/g, '');
      }
      return String(fields.n).padStart(width ? Number(width) : 0, '0');
    })
    .toLowerCase();
}

/** A hostname an earlier deploy gave a card (a line of the deployment record). */
export interface GivenHostname {
  hostname: string;
  serial: string | null;
  /** ISO time of that deploy */
  time: string;
}

/** The hostnames earlier deploys gave cards that came out of them whole: what a new batch numbers on from. */
export function givenHostnames(records: readonly DeploymentRecord[]): GivenHostname[] {
  return records
    .filter((r) => r.intent === 'deploy' && r.ok && r.hostname)
    .map((r) => ({ hostname: r.hostname!, serial: r.card.serial, time: r.time }));
}

/** The {n} of the batch's first card: one past the highest this pattern gave before, else 1. */
export function firstNumber(pattern: string, given: readonly Pick<GivenHostname, 'hostname'>[]): number {
  const fields = [...pattern.matchAll(FIELD)];
  if (!fields.some((m) => m[1] !== 'serial')) return 1;
  // the pattern as a regular expression: literal text escaped (and lowercased, as hostnameFor makes the names),
  // {n} capturing its digits, {serial} a part of a label
  let source = '';
  let last = 0;
  for (const m of fields) {
    source += escape(pattern.slice(last, m.index).toLowerCase());
    source += m[1] === 'serial' ? '[a-z0-9-]*' : '(\\d+)';
    last = m.index + m[0].length;
  }
  const lower = pattern.slice(last).toLowerCase();
  const shape = new RegExp(`^${source}${escape(lower)}$`);
  let highest = 0;
  for (const { hostname } of given) {
    const m = shape.exec(hostname);
    if (!m) continue;
    // every {n} of a name holds the same number; the first is enough
    const n = Number(m.slice(1).find((x) => x !== undefined));
    if (Number.isSafeInteger(n) && n > highest) highest = n;
  }
  return highest + 1;
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * The batch's hostnames, in the order of the cards, numbered on from `given` (see firstNumber); throws a sentence
 * when one is invalid or two collide.
 */
export function hostnamesFor(
  pattern: string,
  serials: Array<string | null>,
  given: readonly Pick<GivenHostname, 'hostname'>[] = [],
): string[] {
  const problem = hostnamePatternProblem(pattern);
  if (problem) throw new Error(problem);
  const names = batchNames(pattern, serials, given);
  names.forEach((name, i) => {
    if (!isValidHostname(name)) {
      throw new Error(
        serials[i] === null && usesSerial(pattern)
          ? `Card ${i + 1} reports no serial, so {serial} cannot name it: use {n} instead.`
          : `"${name}" (card ${i + 1}) is not a hostname: use ${HOSTNAME_RULE}.`,
      );
    }
    const earlier = names.indexOf(name);
    if (earlier !== i) throw new Error(`Cards ${earlier + 1} and ${i + 1} would both be called ${name}.`);
  });
  return names;
}

/** The batch's names as the Restore page shows them, numbered on from `given`; unchecked (hostnamesFor checks). */
export function batchNames(
  pattern: string,
  serials: ReadonlyArray<string | null>,
  given: readonly Pick<GivenHostname, 'hostname'>[],
): string[] {
  const first = firstNumber(pattern, given);
  return serials.map((serial, i) => hostnameFor(pattern, { n: first + i, serial }));
}

/**
 * The names of this batch that an earlier deploy gave another card (a pattern without {n}, or one typed to
 * replace a kiosk's card): a sentence each, to warn, not to refuse. The same card (same serial) named again is not
 * a clash.
 */
export function givenBefore(
  names: readonly string[],
  serials: ReadonlyArray<string | null>,
  given: readonly GivenHostname[],
): string[] {
  const notes: string[] = [];
  names.forEach((name, i) => {
    const other = given.find((g) => g.hostname === name && (g.serial === null || g.serial !== serials[i]));
    if (other) {
      notes.push(
        `${name} was given to ${other.serial ? `the card with serial ${other.serial}` : 'another card'} on ${other.time.slice(0, 10)}.`,
      );
    }
  });
  return notes;
}
