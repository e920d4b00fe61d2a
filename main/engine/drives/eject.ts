/**
 * Unmounting before writing and ejecting after, per OS: Linux `umount` on each mounted partition and
 * `eject` when installed; macOS `diskutil unmountDisk` / `diskutil eject` on the whole disk.
 */
import { execFile } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import { AtlasError } from '../errors';
import type { Drive } from './list';
import { unmountAll } from './mounts';

const execFileAsync = promisify(execFile);

/**
 * Unmounts every mounted partition of the drive; throws TARGET_MOUNTED when one stays mounted. Mounts are read
 * from the kernel's table at the moment of unmounting (mounts.ts), not from a possibly stale drive listing.
 */
export async function unmountDrive(drive: Pick<Drive, 'device'>): Promise<void> {
  await unmountAll(drive.device, { role: 'target' });
}

/**
 * How the end of a writing job waits for the system to mount what it found on the card, and how often it tries
 * again: macOS mounts the FAT partition as soon as it sees a partition table (a Linux desktop's automounter
 * does the same once the card is closed), moments after the last write or while an unmount runs.
 */
export const EJECT_TIMING = { settleMs: 1500, attempts: 5, retryMs: 1000 };

export interface EjectDeps {
  /** which program runs for a tool's name (the root broker's trusted resolver); null: not available */
  tool?: (name: string) => string | null;
  /** runs a program, rejecting with its stderr when it fails (tests pass recorded outputs) */
  run?: (cmd: string, args: string[]) => Promise<unknown>;
  sleep?: (ms: number) => Promise<unknown>;
  timing?: typeof EJECT_TIMING;
}

/**
 * Ejects a card a job wrote, so it can be pulled out. Returns false (not an error) when the OS has no way to, or
 * `device` is an image file written in place of a card.
 */
export async function ejectDrive(device: string, deps: EjectDeps = {}): Promise<boolean> {
  if (
    !(await fsp.stat(device).then(
      (st) => st.isBlockDevice(),
      () => false,
    ))
  )
    return false;
  return ejectDisk(device, process.platform, deps);
}

/**
 * Waits for the system to mount what it found on the disk, unmounts the whole disk again and ejects it; when
 * either fails (a volume appeared, or is being mounted), waits and does both again (etcher-sdk waits and
 * unmounts again too). `platform` is a parameter so the macOS branch is tested on Linux with recorded outputs.
 */
export async function ejectDisk(
  device: string,
  platform: NodeJS.Platform,
  deps: EjectDeps = {},
): Promise<boolean> {
  const tool = deps.tool ?? ((name: string) => name);
  const run = deps.run ?? ((cmd: string, args: string[]) => execFileAsync(cmd, args));
  const sleep = deps.sleep ?? delay;
  const timing = deps.timing ?? EJECT_TIMING;
  const darwin = platform === 'darwin';
  const cmd = tool(darwin ? 'diskutil' : 'eject');
  if (cmd === null) return false;
  const unmount = darwin
    ? () => run(cmd, ['unmountDisk', device])
    : () => unmountAll(device, { role: 'target' });
  const eject = () => run(cmd, darwin ? ['eject', device] : [device]);
  await sleep(timing.settleMs);
  for (let attempt = 1; ; attempt++) {
    try {
      await unmount();
      await eject();
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
      if (attempt < timing.attempts) {
        await sleep(timing.retryMs);
        continue;
      }
      throw new AtlasError(
        'IO_ERROR',
        `Cannot eject ${device}: ${stderrOf(error)}. The image is written; eject the card from your file manager before removing it.`,
        { device },
        { cause: error },
      );
    }
  }
}

function stderrOf(error: unknown): string {
  const e = error as { stderr?: string; message?: string };
  return (e.stderr || e.message || String(error)).trim().split('\n')[0] ?? '';
}
