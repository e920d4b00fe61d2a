/**
 * Reading back from the medium and syncing through it (io/cache.ts): which call each platform gets, decided with
 * the platform injected, and the addon's Linux branch proven here: fincore sees the pages dropped, and a flash
 * without O_DIRECT reads a card back past the page cache (the loop device's backing file changed under it).
 */
import test, { after } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { fullSync, readBackPlan, readsMedium, syncPlan, uncached } from '../../main/engine/io/cache';
import { loadAddon } from '../../main/engine/io/addon';
import { flashJob } from '../../main/engine/jobs/flash';
import { rejection } from '../support/assert';
import { attachLoop, type LoopDevice } from '../support/loop';
import { newRawCardLog, rawCardAccess } from '../support/raw-card';
import { isRoot, run, scratchDir, shell } from '../support/sh';

const { dir, cleanup } = scratchDir('atlas-cache-');
const loops: LoopDevice[] = [];
after(() => {
  for (const l of loops) l.detach();
  cleanup();
});

/** Pages of `path` in the page cache, by fincore (util-linux): the oracle. */
function residentPages(path: string): number {
  return Number(run('fincore', ['--noheadings', '--raw', '--output', 'PAGES', path]).trim());
}

test('the addon is built beside the engine and loads', () => {
  const addon = loadAddon();
  assert.ok(addon, 'out/native/atlas_io.node did not load: the build did not make it');
  assert.equal(typeof addon.nocache, 'function');
  assert.equal(typeof addon.fullsync, 'function');
});

test('each platform gets its call: F_NOCACHE and F_FULLFSYNC on macOS, O_DIRECT or dropped pages on Linux', () => {
  assert.equal(readBackPlan('darwin', { direct: false }), 'f_nocache');
  assert.equal(readBackPlan('linux', { direct: true }), 'o_direct');
  assert.equal(readBackPlan('linux', { direct: false }), 'drop_pages');
  assert.equal(syncPlan('darwin'), 'f_fullfsync');
  assert.equal(syncPlan('linux'), 'fsync');
  // dropped pages are not proof of reading the medium (tmpfs has none to read)
  assert.deepEqual((['o_direct', 'f_nocache', 'drop_pages', 'cached'] as const).map(readsMedium), [
    true,
    true,
    false,
    false,
  ]);
});

test('fullSync: the addon on macOS, fsync where F_FULLFSYNC is refused, fsync on Linux', async () => {
  const file = join(dir, 'synced.bin');
  shell(`head -c 64K /dev/urandom > '${file}'`);
  const handle = await open(file, 'r+');
  try {
    let fsyncs = 0;
    const counted = { fd: handle.fd, sync: async () => void fsyncs++ };
    await fullSync(counted, 'darwin'); // the addon's call (fsync in its Linux branch) took it
    assert.equal(fsyncs, 0);
    await fullSync({ ...counted, fd: 1 << 20 }, 'darwin'); // refused (EBADF here, ENOTTY on a raw node)
    assert.equal(fsyncs, 1);
    await fullSync(counted, 'linux');
    assert.equal(fsyncs, 2);
  } finally {
    await handle.close();
  }
});

test('uncached drops a synced file from the page cache (fincore), so the next read is from the disk', async () => {
  const file = join(dir, 'cached.bin');
  shell(`head -c 8M /dev/urandom > '${file}' && sync '${file}' && cat '${file}' > /dev/null`);
  assert.ok(residentPages(file) > 0, 'the file was not cached to begin with');
  const handle = await open(file, 'r');
  try {
    assert.equal(await uncached(handle, { direct: false }), 'drop_pages');
    assert.equal(residentPages(file), 0);
    assert.equal(await uncached(handle, { direct: true }), 'o_direct');
  } finally {
    await handle.close();
  }
});

test(
  'a flash without O_DIRECT reads the card back past the cache: a change on the medium is caught',
  { skip: isRoot ? false : 'needs root for loop devices' },
  async () => {
    const image = join(dir, 'image.img');
    const cardFile = join(dir, 'card.bin');
    shell(`head -c 6M /dev/urandom > '${image}' && truncate -s 16M '${cardFile}'`);
    const loop = attachLoop(cardFile, { partitions: false });
    loops.push(loop);
    const at = 3 * 1024 * 1024 + 17;
    const error = await rejection(
      flashJob({
        source: image,
        targets: [{ device: loop.device }],
        eject: false,
        access: rawCardAccess(newRawCardLog()),
        testHooks: {
          beforeVerify: () => {
            // the medium changes while the card's page cache still holds what was written
            const fd = openSync(cardFile, 'r+');
            writeSync(fd, Buffer.from([readFileSync(image)[at]! ^ 0xff]), 0, 1, at);
            closeSync(fd);
          },
        },
      }),
    );
    assert.equal(error.code, 'VERIFY_MISMATCH', error.message);
    assert.equal(error.details.offset, at);
  },
);
