/**
 * Just enough of systemd's unit file syntax (systemd.syntax(7)) to check the firstboot unit before Insert
 * puts it into an image: sections, repeated keys, line continuations, comments, ExecStart= prefixes.
 */

export interface UnitFile {
  /** section name → key → values in order (a key may repeat) */
  sections: Map<string, Map<string, string[]>>;
}

export function parseUnitFile(text: string): UnitFile {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | null = null;
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    // a trailing backslash joins the next line, with a space
    while (line.endsWith('\\') && i + 1 < lines.length) {
      line = `${line.slice(0, -1)} ${lines[++i]!.trim()}`;
    }
    const section = /^\[([^\]]+)\]$/.exec(line);
    if (section) {
      current = sections.get(section[1]!) ?? new Map();
      sections.set(section[1]!, current);
      continue;
    }
    const eq = line.indexOf('=');
    if (eq <= 0 || !current) continue;
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    // an empty assignment resets the list, as systemd does
    if (value === '') current.set(key, []);
    else current.set(key, [...(current.get(key) ?? []), value]);
  }
  return { sections };
}

export function unitValues(unit: UnitFile, section: string, key: string): string[] {
  return unit.sections.get(section)?.get(key) ?? [];
}

/** Splits a command line the way systemd does for Exec*= (whitespace, single and double quotes). */
export function splitCommandLine(value: string): string[] {
  const words: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(value)))
    words.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : (m[2] ?? m[3]!));
  return words;
}

/** The program and arguments of an ExecStart= value, without the @-:+! prefixes. */
export function execCommand(value: string): string[] {
  const words = splitCommandLine(value);
  if (words.length > 0) words[0] = words[0]!.replace(/^[@\-:+!|]+/, '');
  return words.filter((w, i) => i > 0 || w !== '');
}

/** The units named by WantedBy= in [Install] (space-separated, possibly on several lines). */
export function wantedBy(unit: UnitFile): string[] {
  return unitValues(unit, 'Install', 'WantedBy').flatMap((v) => v.split(/\s+/).filter(Boolean));
}
