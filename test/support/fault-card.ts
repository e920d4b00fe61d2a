/**
 * A card whose faults the test controls (fault-card.py): a FUSE file with a loop device on it, so the jobs see a
 * real block device whose reads and writes fail, flip, wrap around or crawl when the test says so. Present it as
 * a USB card with the fake lsblk like any loop device.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { attachLoop, type LoopDevice } from './loop';
import { tryRun } from './sh';

export interface Faults {
  /** reads touching this offset or beyond fail with EIO */
  eioReadFrom?: number;
  /** writes touching this offset or beyond fail with EIO */
  eioWriteFrom?: number;
  /** the byte at this offset reads back inverted */
  flipOnReadAt?: number;
  /** a fake-capacity card: offset x is stored at x mod realCapacity */
  realCapacity?: number;
  /** after this many bytes written every read and write fails with EIO */
  vanishAfterBytes?: number;
  throttleBytesPerSecond?: number;
}

export interface FaultCard {
  /** the loop device over the FUSE file */
  loop: LoopDevice;
  /** change the faults; takes effect on the next read or write */
  set(faults: Faults): void;
  /** the card's contents as stored (after any wrap-around), for comparisons */
  backing: string;
  /** detaches the loop, unmounts and stops the FUSE process */
  close(): Promise<void>;
}

// the .py stays in the source tree (tsc does not copy it): out/test/support → test/support
const SCRIPT = resolve(__dirname, '../../../test/support/fault-card.py');

export async function makeFaultCard(dir: string, size: number, faults: Faults = {}): Promise<FaultCard> {
  const mountpoint = join(dir, 'fault-mnt');
  const backing = join(dir, 'fault-backing.bin');
  const config = join(dir, 'fault-config.json');
  mkdirSync(mountpoint, { recursive: true });
  writeFileSync(backing, '');
  tryRun('truncate', ['-s', String(size), backing]);
  const set = (f: Faults): void => writeFileSync(config, JSON.stringify(f));
  set(faults);
  const child: ChildProcess = spawn('/usr/bin/python3', [SCRIPT, mountpoint, backing, String(size), config], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const file = join(mountpoint, 'card');
  for (let i = 0; !existsSync(file); i++) {
    if (child.exitCode !== null || i > 100) {
      child.kill();
      throw new Error(`the fault card did not mount: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const loop = attachLoop(file, { partitions: false });
  return {
    loop,
    set,
    backing,
    async close() {
      loop.detach();
      tryRun('fusermount', ['-u', mountpoint]);
      if (child.exitCode === null) {
        await new Promise<void>((r) => {
          child.once('exit', () => r());
          setTimeout(() => {
            child.kill('SIGKILL');
            r();
          }, 3000).unref();
        });
      }
    },
  };
}
