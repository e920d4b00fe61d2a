/**
 * A vault on a disk of its own, for the vault tests: an ext4 filesystem in an image file of the scratch folder, on
 * a loop device mounted in that folder, with the vault folder made on it (as golden-atlas-img/ on NVME_VAULT).
 * Its size is the vault's room: a small one is a full vault. Only the loop device made here is detached.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { attachLoop } from './loop';
import { run, tryRun } from './sh';

export interface VaultDisk {
  /** the loop device (/dev/loopN) */
  device: string;
  /** where the filesystem is mounted */
  mnt: string;
  /** the vault folder on it: `mnt`/golden-atlas-img */
  vault: string;
  /** unmounts and detaches; safe to call twice */
  remove(): void;
}

export function mountVaultDisk(
  dir: string,
  options: { mib: number; name?: string; blockSize?: number },
): VaultDisk {
  const name = options.name ?? 'vault-disk';
  const image = join(dir, `${name}.ext4`);
  run('truncate', ['-s', `${options.mib}M`, image]);
  run('mkfs.ext4', ['-q', '-F', ...(options.blockSize ? ['-b', String(options.blockSize)] : []), image]);
  const loop = attachLoop(image, { partitions: false });
  const mnt = join(dir, name);
  try {
    mkdirSync(mnt);
    run('mount', [loop.device, mnt]);
  } catch (error) {
    loop.detach();
    throw error;
  }
  const vault = join(mnt, 'golden-atlas-img');
  mkdirSync(vault);
  let mounted = true;
  return {
    device: loop.device,
    mnt,
    vault,
    remove: () => {
      if (!mounted) return;
      mounted = false;
      tryRun('umount', [mnt]);
      loop.detach();
    },
  };
}
