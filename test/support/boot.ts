/**
 * "Boots" a card or an image in a test: what a Pi's first boot does to the root filesystem as far as Atlas can
 * see. The kernel mounts the root read-write (the superblock's mount count goes up by one and its last mount
 * time is set: Clone's Phase rule reads exactly that, main/engine/library/lineage.ts), and the first boot
 * leaves its traces (systemd writes /etc/machine-id). Needs root (a real mount).
 */
import { mkdtempSync, rmdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { attachLoop } from './loop';
import { run } from './sh';

export interface MountOptions {
  /**
   * false: only the read-write mount, no first-boot traces (a base image Armbian's build mounted, whose
   * machine-id stays empty)
   */
  traces?: boolean;
}

/** Boots the root filesystem on a partition device (/dev/loopNp2 for the Armbian layout). */
export function bootPartition(partitionDevice: string, options: MountOptions = {}): void {
  const mnt = mkdtempSync(join(tmpdir(), 'atlas-boot-'));
  try {
    run('mount', ['-t', 'ext4', '-o', 'rw', partitionDevice, mnt]);
    try {
      if (options.traces !== false) {
        writeFileSync(join(mnt, 'etc/machine-id'), '0123456789abcdef0123456789abcdef\n');
      }
    } finally {
      run('umount', [mnt]);
    }
  } finally {
    rmdirSync(mnt);
  }
}

/** Boots an image file (or the file behind a card) on a loop device of its own, detached afterwards. */
export function bootImage(imagePath: string, options: MountOptions & { rootPartition?: number } = {}): void {
  const loop = attachLoop(imagePath);
  try {
    bootPartition(loop.partition(options.rootPartition ?? 2), options);
  } finally {
    loop.detach();
  }
}
