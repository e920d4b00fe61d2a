/**
 * Finds external decompressors. An app started from the macOS Finder gets a minimal PATH, so the usual
 * Homebrew folders are searched as well unless the caller gives its own search path.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';

const EXTRA_DIRS = ['/opt/homebrew/bin', '/usr/local/bin', '/usr/bin', '/bin'];
const cache = new Map<string, string | null>();

/** Absolute path of an executable `name`, or null. `searchPath` is PATH-like; default PATH + Homebrew folders. */
export function findTool(name: string, searchPath?: string): string | null {
  const dirs =
    searchPath === undefined
      ? [...(process.env.PATH ?? '').split(delimiter), ...EXTRA_DIRS]
      : searchPath.split(delimiter);
  const key = `${name}\0${dirs.join(delimiter)}`;
  const known = cache.get(key);
  if (known !== undefined) return known;
  let found: string | null = null;
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) {
        found = candidate;
        break;
      }
    } catch {
      // not here
    }
  }
  cache.set(key, found);
  return found;
}
