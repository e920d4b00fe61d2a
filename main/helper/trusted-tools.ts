/**
 * The programs root runs (umount, eject, losetup, e2fsck, resize2fs, lsblk, diskutil) come only from folders
 * that root owns and nobody else can write, checked along the whole path: a tool in a folder the person (or
 * anyone) can write could be replaced, and would then run as root. Decompressors (xz, pigz, zstd) never run
 * as root at all: they run in the job worker, as the person, with the person's PATH.
 */
import { constants, lstatSync, realpathSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { AtlasError } from '../engine/errors';

/** Where the broker looks for tools, in order (pkexec's own PATH on Linux; diskutil lives in /usr/sbin on macOS). */
export const TRUSTED_DIRS: readonly string[] = ['/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/** Why `path` (a file or folder) is not trusted, or null when root owns it and every folder above it, none writable by others. */
export function untrustedReason(path: string): string | null {
  let real: string;
  try {
    real = realpathSync(path);
  } catch {
    return `${path} does not exist`;
  }
  // every component, from the file itself up to /, after symlinks are resolved (so /bin → usr/bin is checked as /usr/bin)
  for (let p = real; ; p = dirname(p)) {
    const st = lstatSync(p);
    if (st.uid !== 0) return `${p} is not owned by root`;
    if ((st.mode & 0o022) !== 0) return `${p} is writable by others than root`;
    if (p === dirname(p)) return null;
  }
}

/** PATH made of the trusted folders that exist and pass the check. */
export function trustedPath(dirs: readonly string[] = TRUSTED_DIRS): string {
  return dirs.filter((d) => untrustedReason(d) === null).join(':');
}

/** The absolute path of `name` in the first trusted folder holding an executable file of that name. */
export function trustedTool(name: string, dirs: readonly string[] = TRUSTED_DIRS): string {
  if (name.includes('/')) throw new AtlasError('INVALID_ARGUMENT', `${name} is not a tool name.`);
  const refused: string[] = [];
  for (const dir of dirs) {
    const path = join(dir, name);
    let st;
    try {
      st = statSync(path);
    } catch {
      continue;
    }
    if (!st.isFile() || (st.mode & constants.S_IXUSR) === 0) continue;
    const why = untrustedReason(path);
    if (why === null) return path;
    refused.push(why);
  }
  throw new AtlasError(
    'UNSUPPORTED',
    refused.length > 0
      ? `${name} is not run as administrator from where it was found: ${refused.join('; ')}.`
      : `${name} is not installed in ${dirs.join(', ')}.`,
    { tool: name },
  );
}
