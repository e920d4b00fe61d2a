/**
 * Unmounting before writing and ejecting after, per OS: Linux `umount` on each mounted partition and
 * `eject` when installed; macOS `diskutil unmountDisk` / `diskutil eject` on the whole disk.
 */
import { execFile } from 'node:child_process';
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
 * Ejects the card so it can be pulled out. Returns false (not an error) when the OS has no way to. `tool`
 * says which program runs for a tool's name (the root broker's trusted resolver; null: not available).
 */
export async function ejectDrive(
  device: string,
  tool: (name: string) => string | null = (name) => name,
): Promise<boolean> {
  const [name, args] = process.platform === 'darwin' ? ['diskutil', ['eject', device]] : ['eject', [device]];
  const cmd = tool(name);
  if (cmd === null) return false;
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
