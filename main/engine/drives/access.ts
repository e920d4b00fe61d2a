/**
 * How a job reaches its cards: every device job (flash, clone, restore) takes a CardAccess and never opens a
 * card by itself. In the app and the CLI that is the root broker's (main/helper/): the card is checked and
 * opened by root, the job runs as the person on the inherited descriptor, and the few root-only steps (eject,
 * growing root) go back to the broker. localCardAccess is the same three calls in this process, for image
 * files and for tests on bare loop devices.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { AtlasError } from '../errors';
import { openDirect, type DirectDevice } from '../io/direct';
import { type JobControl, ProgressMeter } from '../progress';
import { ejectDrive } from './eject';
import { assertNotMounted } from './mounts';

const execFileAsync = promisify(execFile);

export interface CardOpen {
  /** open for writing (flash and restore targets); a clone source is only read */
  write: boolean;
  /** O_DIRECT where it applies (Linux); every device read and write is whole sectors either way (io/direct ioUnit) */
  direct: boolean;
}

export interface CardAccess {
  /** Opens the whole card (or image file) at `path`, after the checks this access stands for. */
  open(path: string, how: CardOpen): Promise<DirectDevice>;
  /** Ejects a card the job wrote; false when the OS has no way to. */
  eject(path: string): Promise<boolean>;
  /**
   * Grows the ext4 at [offset, offset + size) of `path` to fill that range (e2fsck, then resize2fs); false
   * when it cannot be done here (no resize2fs, not root), so the job falls back to growing at first boot.
   */
  growExt4(path: string, offset: number, size: number, control: JobControl): Promise<boolean>;
}

/**
 * The card opened here by path: its mounted partitions refused (or unmounted with `unmount`), O_EXCL when
 * writing on Linux. No target rules: callers that take a device from a person go through the broker instead.
 */
export function localCardAccess(options: { unmount?: boolean } = {}): CardAccess {
  return {
    async open(path, how) {
      await assertNotMounted(path, {
        unmount: options.unmount ?? false,
        role: how.write ? 'target' : 'source',
      });
      return openDirect(path, { write: how.write, exclusive: how.write, direct: how.direct });
    },
    eject: (path) => ejectDrive(path),
    async growExt4(path, offset, size, control) {
      if (!(await resizerAvailable())) return false;
      await resizeExt4(path, offset, size, control);
      return true;
    },
  };
}

/**
 * resize2fs is Linux's (e2fsprogs) and wants the partition as a block device. A loop device over the partition's
 * byte range serves cards and image files alike, without waiting for the kernel to re-read the card's table;
 * setting it up needs root.
 */
export async function resizerAvailable(): Promise<boolean> {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) return false;
  return execFileAsync('sh', ['-c', 'command -v resize2fs && command -v e2fsck && command -v losetup']).then(
    () => true,
    () => false,
  );
}

/**
 * e2fsck -f -p then resize2fs on a loop device over [offset, offset + size) of `path`. `tool` maps a tool's
 * name to the program to run (the broker passes its trusted resolver).
 */
export async function resizeExt4(
  path: string,
  offset: number,
  size: number,
  control: JobControl,
  tool: (name: string) => string = (name) => name,
): Promise<void> {
  const meter = new ProgressMeter('growing root', null, control.onProgress);
  let loop: string | null = null;
  try {
    const { stdout } = await execFileAsync(tool('losetup'), [
      '-f',
      '--show',
      '-o',
      String(offset),
      '--sizelimit',
      String(size),
      path,
    ]);
    loop = stdout.trim();
    const device = loop;
    // e2fsck first: resize2fs insists on a freshly checked filesystem. Exit codes 0 and 1 mean clean / fixed.
    await execFileAsync(tool('e2fsck'), ['-f', '-p', device]).catch(
      (error: { code?: number; stderr?: string }) => {
        if (error.code !== 1) {
          throw new AtlasError(
            'FS_NOT_CLEAN',
            `e2fsck found problems on the restored root (${device}): ${error.stderr ?? ''}`.trim(),
          );
        }
      },
    );
    await execFileAsync(tool('resize2fs'), [device]).catch((error: { stderr?: string }) => {
      throw new AtlasError(
        'IO_ERROR',
        `resize2fs could not grow the restored root (${device}): ${error.stderr ?? ''}`.trim(),
      );
    });
  } finally {
    if (loop) await execFileAsync(tool('losetup'), ['-d', loop]).catch(() => undefined);
    meter.finish();
  }
}
