/**
 * Unmounting before writing and ejecting after, per OS: Linux `umount` on each mounted partition and
 * `eject` when installed; macOS `diskutil unmountDisk` / `diskutil eject` on the whole disk.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { AtlasError } from '../errors';
import type { Drive } from './list';

const execFileAsync = promisify(execFile);

/** Unmounts every mounted partition of the drive; throws TARGET_MOUNTED when one stays mounted. */
export async function unmountDrive(
  drive: Pick<Drive, 'device' | 'partitions' | 'mountpoints'>,
): Promise<void> {
  if (process.platform === 'darwin') {
    try {
      await execFileAsync('diskutil', ['unmountDisk', drive.device]);
    } catch (error) {
      throw new AtlasError(
        'TARGET_MOUNTED',
        `Cannot unmount ${drive.device}: ${stderrOf(error)}. Close the files open on it.`,
        {
          device: drive.device,
        },
      );
    }
    return;
  }
  const mountpoints = new Set<string>(drive.partitions.flatMap((p) => p.mountpoints));
  for (const m of drive.mountpoints) mountpoints.add(m);
  // deepest first, so nested mounts come off before their parents
  if (mountpoints.has('/')) {
    throw new AtlasError(
      'SYSTEM_DISK',
      `${drive.device} holds the running system (/); it is never unmounted.`,
    );
  }
  for (const mountpoint of [...mountpoints].sort((a, b) => b.length - a.length)) {
    try {
      await execFileAsync('umount', [mountpoint]);
    } catch (error) {
      throw new AtlasError(
        'TARGET_MOUNTED',
        `Cannot unmount ${mountpoint} on ${drive.device}: ${stderrOf(error)}. Close the files open on it and try again.`,
        { device: drive.device, mountpoint },
      );
    }
  }
}

/** Ejects the card so it can be pulled out. Returns false (not an error) when the OS has no way to. */
export async function ejectDrive(device: string): Promise<boolean> {
  const [cmd, args] = process.platform === 'darwin' ? ['diskutil', ['eject', device]] : ['eject', [device]];
  try {
    await execFileAsync(cmd, args);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw new AtlasError(
      'IO_ERROR',
      `Cannot eject ${device}: ${stderrOf(error)}. It is safe to remove it anyway.`,
      {
        device,
      },
    );
  }
}

function stderrOf(error: unknown): string {
  const e = error as { stderr?: string; message?: string };
  return (e.stderr || e.message || String(error)).trim().split('\n')[0] ?? '';
}
