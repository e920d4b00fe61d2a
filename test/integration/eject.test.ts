/**
 * Ejecting a card at the end of a writing job: wait for the system to mount what it found on the new partition
 * table, unmount the whole disk again, eject, and both again when one fails. macOS's branch is fed diskutil's
 * recorded outputs (test/fixtures/darwin/); Linux's unmounts a real mount of a loop device.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EJECT_TIMING, ejectDisk, ejectDrive } from '../../main/engine/drives/eject';
import { rejection } from '../support/assert';
import { attachLoop } from '../support/loop';
import { isRoot, run, scratchDir, shell, tryRun } from '../support/sh';

const FIXTURES = join(process.cwd(), 'test', 'fixtures', 'darwin');
const recorded = (name: string): string => readFileSync(join(FIXTURES, name), 'utf8');

/** A Mac whose diskutil answers from the recordings: unmountDisk is dissented `busy` times first. */
function mac(busy: number) {
  const calls: string[] = [];
  const sleeps: number[] = [];
  let dissents = busy;
  return {
    calls,
    sleeps,
    deps: {
      tool: (name: string) => `/usr/sbin/${name}`,
      sleep: async (ms: number) => {
        sleeps.push(ms);
        calls.push(`sleep ${ms}`);
      },
      run: async (cmd: string, args: string[]) => {
        calls.push([cmd, ...args].join(' '));
        if (args[0] === 'unmountDisk' && dissents-- > 0) {
          throw Object.assign(new Error('Command failed'), {
            code: 1,
            stderr: recorded('diskutil-unmountDisk-disk4-dissented.txt'),
          });
        }
        const out = args[0] === 'eject' ? 'diskutil-eject-disk4.txt' : 'diskutil-unmountDisk-disk4.txt';
        return { stdout: recorded(out), stderr: '' };
      },
    },
  };
}

test('macOS: waits for the remount, unmounts the whole disk again, then ejects', async () => {
  const m = mac(0);
  assert.equal(await ejectDisk('/dev/disk4', 'darwin', m.deps), true);
  assert.deepEqual(m.calls, [
    `sleep ${EJECT_TIMING.settleMs}`,
    '/usr/sbin/diskutil unmountDisk /dev/disk4',
    '/usr/sbin/diskutil eject /dev/disk4',
  ]);
});

test('macOS: an unmount dissented while a volume is being mounted is tried again', async () => {
  const m = mac(2);
  assert.equal(await ejectDisk('/dev/disk4', 'darwin', m.deps), true);
  assert.deepEqual(m.calls, [
    `sleep ${EJECT_TIMING.settleMs}`,
    '/usr/sbin/diskutil unmountDisk /dev/disk4',
    `sleep ${EJECT_TIMING.retryMs}`,
    '/usr/sbin/diskutil unmountDisk /dev/disk4',
    `sleep ${EJECT_TIMING.retryMs}`,
    '/usr/sbin/diskutil unmountDisk /dev/disk4',
    '/usr/sbin/diskutil eject /dev/disk4',
  ]);
});

test('macOS: a disk that stays busy is an error naming why, for the app (no flags)', async () => {
  const m = mac(Infinity);
  const error = await rejection(ejectDisk('/dev/disk4', 'darwin', m.deps));
  assert.equal(error.code, 'IO_ERROR');
  assert.match(error.message, /^Cannot eject \/dev\/disk4: Unmount of disk4 failed: at least one volume/);
  assert.match(error.message, /eject the card from your file manager before removing it\.$/);
  assert.doesNotMatch(error.message, / --?[a-z]/);
  assert.equal(m.calls.filter((c) => c.includes('unmountDisk')).length, EJECT_TIMING.attempts);
  assert.ok(!m.calls.some((c) => c.includes(' eject ')));
});

test('without diskutil or eject where root may run it, nothing is ejected and nothing fails', async () => {
  const m = mac(0);
  assert.equal(await ejectDisk('/dev/disk4', 'darwin', { ...m.deps, tool: () => null }), false);
  assert.equal(await ejectDisk('/dev/sdc', 'linux', { ...m.deps, tool: () => null }), false);
  assert.deepEqual(m.calls, []);
});

test('an image file written in place of a card is not ejected', async () => {
  const { dir, cleanup } = scratchDir('atlas-eject-file-');
  try {
    const file = join(dir, 'card.img');
    shell(`truncate -s 1M '${file}'`);
    assert.equal(await ejectDrive(file, { tool: () => '/bin/false' }), false);
  } finally {
    cleanup();
  }
});

test(
  'Linux: a partition mounted after the job (an automounter) is unmounted again, then ejected',
  { skip: isRoot ? false : 'needs root for loop devices and mount' },
  async () => {
    const { dir, cleanup } = scratchDir('atlas-eject-');
    const img = join(dir, 'card.img');
    shell(`truncate -s 16M '${img}' && printf 'start=2048, type=83\\n' | sfdisk -q '${img}'`);
    const loop = attachLoop(img);
    const mnt = join(dir, 'mnt');
    mkdirSync(mnt);
    try {
      run('mkfs.ext4', ['-q', loop.partition(1)]);
      const ejected: string[][] = [];
      const result = await ejectDisk(loop.device, 'linux', {
        tool: (name) => name,
        // the automounter mounts the new partition while the job waits for it
        sleep: async (ms) => {
          if (ms === EJECT_TIMING.settleMs) run('mount', [loop.partition(1), mnt]);
        },
        run: async (cmd, args) => {
          ejected.push([cmd, ...args]);
          return { stdout: '' };
        },
      });
      assert.equal(result, true);
      assert.notEqual(tryRun('mountpoint', ['-q', mnt]).status, 0, 'the partition is still mounted');
      assert.deepEqual(ejected, [['eject', loop.device]]);
    } finally {
      tryRun('umount', [mnt]);
      loop.detach();
      cleanup();
    }
  },
);
