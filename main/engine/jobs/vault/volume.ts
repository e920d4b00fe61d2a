/**
 * "Is the vault's disk plugged in?" The vault folder must exist already: a missing folder almost always means its
 * disk is not plugged in, and creating it would fill the system disk instead.
 *
 * On a Mac the disk is mounted at /Volumes/NAME. When it is not, /Volumes/NAME is absent, or a plain folder on the
 * boot volume (left behind by a program that wrote there while the disk was away). The boot volume is not `/`'s
 * device: since APFS, `/` is the read-only system volume and /Volumes lives on the Data volume (firmlinked), so
 * /Volumes/NAME is compared with /Volumes itself: a mounted disk has a device of its own.
 *
 * "Is there room?" A sync from the build folder and a pull over ssh are refused alike (VAULT_FULL) before their
 * first byte when what they copy does not fit.
 */
import { promises as fsp, type Stats } from 'node:fs';
import { join } from 'node:path';
import { AtlasError, toAtlasError } from '../../errors';
import { formatBytes } from '../../format';

/** Where macOS mounts volumes. */
export const VOLUMES_ROOT = '/Volumes';

export interface VolumeOptions {
  /** where volumes are mounted (default /Volumes; tests point it at a scratch folder) */
  volumesRoot?: string;
}

/** Throws VAULT_UNAVAILABLE when the vault folder is missing or is not on the volume its path names. */
export async function checkVault(vault: string, options: VolumeOptions = {}): Promise<void> {
  const root = options.volumesRoot ?? VOLUMES_ROOT;
  const disk = vault.startsWith(`${root}/`) ? vault.slice(root.length + 1).split('/')[0] || null : null;
  const hint = disk ? `is the ${disk} disk plugged in?` : "is the vault's disk plugged in and mounted?";
  let st: Stats;
  try {
    st = await fsp.stat(vault);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new AtlasError('VAULT_UNAVAILABLE', `The vault ${vault} is not there: ${hint}`, { vault });
    }
    throw toAtlasError(error, `Cannot open the vault ${vault}`);
  }
  if (!st.isDirectory()) {
    throw new AtlasError('INVALID_ARGUMENT', `The vault ${vault} is not a folder.`, { vault });
  }
  if (!disk) return;
  const volume = join(root, disk);
  // /Volumes/Macintosh HD is a symlink to /: a vault there is on the boot disk on purpose
  if ((await fsp.lstat(volume)).isSymbolicLink()) return;
  const [mounted, volumes] = await Promise.all([fsp.stat(volume), fsp.stat(root)]);
  if (mounted.dev === volumes.dev) {
    throw new AtlasError(
      'VAULT_UNAVAILABLE',
      `The vault ${vault} is a folder on the system disk, not on the ${disk} volume: ${hint}`,
      { vault },
    );
  }
}

/** What a copy into the vault needs room for. */
export interface VaultRoom {
  /** the vault's free bytes */
  freeBytes: number;
  /** the bytes still to copy */
  neededBytes: number;
  /** how many artifacts they make */
  artifacts: number;
  /** where they come from, as the person knows it (the build folder, the build box's host name) */
  from: string;
}

/** Room per artifact for its folder, checksum file and filesystem metadata, beyond its bytes. */
const MARGIN_PER_ARTIFACT = 1024 * 1024;

/** Throws VAULT_FULL when the copy does not fit in the vault's free space. */
export function checkRoom(vault: string, room: VaultRoom): void {
  const { freeBytes, neededBytes, artifacts } = room;
  if (neededBytes + artifacts * MARGIN_PER_ARTIFACT <= freeBytes) return;
  throw new AtlasError(
    'VAULT_FULL',
    `${vault} has ${formatBytes(freeBytes)} free but the copy from ${room.from} needs ${formatBytes(neededBytes)} (${artifacts} artifact${artifacts === 1 ? '' : 's'}). Nothing was copied.`,
    { freeBytes, neededBytes },
  );
}
