/** Telling the OS that a disk's partition table changed. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/**
 * Asks the Linux kernel to re-read the partition table of `devicePath` (`blockdev --rereadpt`, then
 * `partx -u` for devices the kernel does not scan itself, such as loop devices without partscan).
 * Returns whether one of them succeeded; never throws: a missing tool or a busy disk is not a failed write.
 */
export async function rereadPartitionTable(devicePath: string): Promise<boolean> {
  if (process.platform !== 'linux') return false;
  for (const [cmd, args] of [
    ['blockdev', ['--rereadpt', devicePath]],
    ['partx', ['-u', devicePath]],
  ] as const) {
    try {
      await execFileAsync(cmd, [...args], { timeout: 30_000 });
      return true;
    } catch {
      // try the next one
    }
  }
  return false;
}
