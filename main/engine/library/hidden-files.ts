/**
 * Names that begin with "." are never artifacts nor parts of one. macOS writes them on every FAT, exFAT and network
 * volume it touches: `._NAME` (AppleDouble: the extended attributes of NAME, one per file copied there), `.DS_Store`
 * (Finder's window state), `.Spotlight-V100`, `.fseventsd`, `.Trashes`. They come and go without the person doing
 * anything, so a clone folder or a vault that holds them is still the same folder: they are left out of every
 * listing the library makes (partition images, catalog, vault comparisons) and are never copied nor deleted.
 */
import { promises as fsp } from 'node:fs';

/** True for a hidden name (`.DS_Store`, `._sdc1-boot.partclone.gz`, the vault's own lock file). */
export function isHiddenName(name: string): boolean {
  return name.startsWith('.');
}

/** The entries of a folder without its hidden ones, sorted. Errors are readdir's (ENOENT, ENOTDIR, EACCES). */
export async function visibleEntries(folder: string): Promise<string[]> {
  return (await fsp.readdir(folder)).filter((name) => !isHiddenName(name)).sort();
}
