/**
 * The hostname each deployed card gets, from a pattern the person types once for the whole batch:
 *   atlas-{n}       atlas-1, atlas-2, …           ({n} counts from `start`, default 1)
 *   atlas-{n:03}    atlas-001, atlas-002, …       (zero-padded to 3 digits)
 *   atlas-{serial}  atlas-3a7f19c2                 (the card's serial, lowercased, reduced to [a-z0-9-])
 * Pure: the Restore page previews the names with it, the CLI and the engine apply it.
 */

/** One DNS label (RFC 1123): what /etc/hostname may hold for a kiosk found by name on the network. */
export const HOSTNAME_RULE = 'letters, digits and inner hyphens, at most 63 characters';
const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

export function isValidHostname(name: string): boolean {
  return LABEL.test(name);
}

const FIELD = /\{(n(?::0?(\d+))?|serial)\}/g;

export interface HostnameFields {
  /** the card's place in the batch, counted from 1 (or the pattern's start) */
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

/** The batch's hostnames, in the order of the cards; throws a sentence when one is invalid or two collide. */
export function hostnamesFor(pattern: string, serials: Array<string | null>): string[] {
  const problem = hostnamePatternProblem(pattern);
  if (problem) throw new Error(problem);
  const names = serials.map((serial, i) => hostnameFor(pattern, { n: i + 1, serial }));
  names.forEach((name, i) => {
    if (!isValidHostname(name)) {
      throw new Error(
        serials[i] === null && usesSerial(pattern)
          ? `Card ${i + 1} reports no serial, so {serial} cannot name it: use {n} instead.`
          : `"${name}" (card ${i + 1}) is not a hostname: use ${HOSTNAME_RULE}.`,
      );
    }
    const first = names.indexOf(name);
    if (first !== i) throw new Error(`Cards ${first + 1} and ${i + 1} would both be called ${name}.`);
  });
  return names;
}
