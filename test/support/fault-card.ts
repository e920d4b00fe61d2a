/**
 * A card whose faults the test controls (fault-card.py): a FUSE file with a loop device on it, so the jobs see a
 * real block device whose reads and writes fail, flip, wrap around or crawl when the test says so. Present it as
 * a USB card with the fake lsblk like any loop device.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { attachLoop, type LoopDevice } from './loop';
import { run, tryRun } from './sh';

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
  /** every read and write fails with EIO (pull() sets it) */
  gone?: boolean;
  throttleBytesPerSecond?: number;
}

export interface FaultCard {
  /** the loop device over the FUSE file */
  loop: LoopDevice;
  /** change the faults; takes effect on the next read or write */
  set(faults: Faults): void;
  /**
   * Pulls the card out, as a USB card is: its device node disappears, then every read and write fails with EIO
   * (in that order, so a job seeing the EIO finds the node gone). reinsert() undoes it.
   */
  pull(): void;
  /** Puts the device node back as it was (type, numbers, mode, owner) and ends the `gone` fault. */
  reinsert(): void;
  /** the card's contents as stored (after any wrap-around), for comparisons */
  backing: string;
  /** reinserts a pulled card, detaches the loop, unmounts and stops the FUSE process */
  close(): Promise<void>;
}

// the .py stays in the source tree (tsc does not copy it); tests run from the repository root (npm test), whatever
// ATLAS_OUT the build went to (as armbian.ts finds the fixture script)
const SCRIPT = resolve('test/support/fault-card.py');

export async function makeFaultCard(dir: string, size: number, faults: Faults = {}): Promise<FaultCard> {
  const mountpoint = join(dir, 'fault-mnt');
  const backing = join(dir, 'fault-backing.bin');
  const config = join(dir, 'fault-config.json');
  mkdirSync(mountpoint, { recursive: true });
  writeFileSync(backing, '');
  tryRun('truncate', ['-s', String(size), backing]);
  let current = faults;
  const set = (f: Faults): void => {
    current = f;
    writeFileSync(config, JSON.stringify(f));
  };
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
  let pulled: { mode: number; uid: number; gid: number; major: number; minor: number } | null = null;
  const reinsert = (): void => {
    if (!pulled) return;
    const { mode, uid, gid, major, minor } = pulled;
    if (!existsSync(loop.device)) {
      run('mknod', ['-m', mode.toString(8), loop.device, 'b', String(major), String(minor)]);
      chownSync(loop.device, uid, gid);
    }
    // forgotten only once the node is back: a failure above leaves close() to try again
    pulled = null;
    const { gone: _, ...rest } = current;
    set(rest);
  };
  return {
    loop,
    set,
    backing,
    pull() {
      if (pulled) return;
      const st = statSync(loop.device);
      if (!st.isBlockDevice()) throw new Error(`${loop.device} is not a block device`);
      const [major, minor] = run('stat', ['-c', '%t %T', loop.device])
        .trim()
        .split(' ')
        .map((hex) => parseInt(hex, 16));
      pulled = { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, major: major!, minor: minor! };
      unlinkSync(loop.device);
      set({ ...current, gone: true });
    },
    reinsert,
    async close() {
      // the node back first, so losetup -d finds it; whatever happens there, the rest is still undone
      let failed: unknown = null;
      try {
        reinsert();
      } catch (error) {
        failed = error;
      }
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
      if (failed) throw failed;
    },
  };
}
