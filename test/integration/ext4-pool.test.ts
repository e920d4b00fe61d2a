/**
 * Warm ext4 workers (fs/ext4-inject/pool.ts): sessions one after another on one worker read and write correctly,
 * checked with the real tools (debugfs, e2fsck); a session that fails leaves nothing behind for the next one;
 * and idle workers never keep a process alive.
 */
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { openExt4, prestartExt4Workers, withExt4 } from '../../main/engine/fs/ext4-inject';
import { ext4PoolState } from '../../main/engine/fs/ext4-inject/pool';
import { isAtlasError } from '../../main/engine/errors';
import { run, scratchDir } from '../support/sh';
import { fixtureOffsets, makeArmbianImage } from '../support/armbian';
import { e2fsckClean as e2fsckCleanAt } from '../support/assert';

const ROOT = fixtureOffsets().root;
let dir: string;
let cleanup: () => void;
let base: string;

const debugfs = (img: string, request: string): string =>
  run('debugfs', ['-R', request, `${img}?offset=${ROOT}`]);
const e2fsckClean = (img: string): void => e2fsckCleanAt(img, ROOT);

/** A fresh copy of the fixture image. */
function image(name: string): string {
  const img = join(dir, name);
  copyFileSync(base, img);
  return img;
}

before(() => {
  ({ dir, cleanup } = scratchDir('atlas-ext4-pool-'));
  base = makeArmbianImage(join(dir, 'base.img'));
});
after(() => cleanup());

test('one warm worker runs sessions on two images one after another, each written and read correctly', async () => {
  // held, so a slow debugfs between sessions cannot let the idle worker time out
  const warm = prestartExt4Workers(1);
  try {
    const started = ext4PoolState().started;
    assert.equal(ext4PoolState().idle, 1);
    const a = image('a.img');
    const b = image('b.img');
    await withExt4(a, { offset: ROOT, write: true }, async (ext4) => {
      await ext4.mkdirp('/opt/a');
      await ext4.writeFile('/opt/a/name', 'image a\n', { mode: 0o640, uid: 1000, gid: 1000 });
      await ext4.writeFile('/etc/hostname', 'kiosk-a\n', { mode: 0o644 });
    });
    await withExt4(b, { offset: ROOT, write: true }, async (ext4) => {
      // nothing of the session on a shows through on b
      assert.equal(await ext4.exists('/opt/a'), false);
      await ext4.writeFile('/etc/hostname', 'kiosk-b\n', { mode: 0o644 });
      await ext4.symlink('/etc/hostname', '/etc/b-link');
    });
    const readBack = await withExt4(a, { offset: ROOT }, async (ext4) => ({
      name: (await ext4.readFile('/opt/a/name')).toString(),
      hostname: (await ext4.readFile('/etc/hostname')).toString(),
      link: await ext4.exists('/etc/b-link'),
    }));
    assert.deepEqual(readBack, { name: 'image a\n', hostname: 'kiosk-a\n', link: false });
    assert.equal(ext4PoolState().started, started, 'the three sessions ran on the warm worker');
    assert.equal(ext4PoolState().idle, 1, 'and it is idle again');

    e2fsckClean(a);
    e2fsckClean(b);
    assert.equal(debugfs(a, 'cat /opt/a/name'), 'image a\n');
    assert.match(debugfs(a, 'stat /opt/a/name'), /User: +1000 +Group: +1000/);
    assert.equal(debugfs(a, 'cat /etc/hostname'), 'kiosk-a\n');
    assert.equal(debugfs(b, 'cat /etc/hostname'), 'kiosk-b\n');
    assert.match(debugfs(b, 'stat /etc/b-link'), /Fast link dest: "\/etc\/hostname"/);
  } finally {
    warm.release();
  }
});

test('a session that fails does not poison the next one', async () => {
  const warm = prestartExt4Workers(1);
  try {
    const img = image('fail.img');
    const before = ext4PoolState().started;
    // an op error: the session goes on, closes cleanly, and its worker serves the next session
    await withExt4(img, { offset: ROOT, write: true }, async (ext4) => {
      await assert.rejects(ext4.readFile('/nope/x'), (e) => isAtlasError(e, 'NOT_FOUND'));
      await assert.rejects(ext4.mkdirp('/etc/hostname/sub'), (e) => isAtlasError(e, 'INVALID_ARGUMENT'));
      await ext4.writeFile('/etc/after-op-error', 'one\n', { mode: 0o644 });
    });
    assert.equal(ext4PoolState().started, before);
    assert.equal(ext4PoolState().idle, 1, 'back in the pool after a clean close with failed ops');

    // no filesystem at the offset: that worker is ended, the next session gets a working one
    await assert.rejects(openExt4(img, { offset: 0 }), (e) => isAtlasError(e, 'FS_UNSUPPORTED'));
    await withExt4(img, { offset: ROOT, write: true }, async (ext4) => {
      await ext4.writeFile('/etc/after-mount-error', 'two\n', { mode: 0o644 });
    });

    // aborted mid-write (on an image of its own: it is left half-written): ended too
    const controller = new AbortController();
    const session = await openExt4(image('abort.img'), {
      offset: ROOT,
      write: true,
      signal: controller.signal,
    });
    const pending = session.writeFile('/big', Buffer.alloc(20 * 1024 * 1024, 1), { mode: 0o644 });
    controller.abort();
    await assert.rejects(pending, (e) => isAtlasError(e, 'CANCELLED'));
    await session.close();
    const clean = image('after-abort.img');
    await withExt4(clean, { offset: ROOT, write: true }, async (ext4) => {
      assert.equal(await ext4.exists('/big'), false);
      await ext4.writeFile('/etc/after-abort', 'three\n', { mode: 0o644 });
    });

    e2fsckClean(clean);
    assert.equal(debugfs(clean, 'cat /etc/after-abort'), 'three\n');
    const text = await withExt4(img, { offset: ROOT }, async (ext4) => [
      (await ext4.readFile('/etc/after-op-error')).toString(),
      (await ext4.readFile('/etc/after-mount-error')).toString(),
    ]);
    assert.deepEqual(text, ['one\n', 'two\n']);
  } finally {
    warm.release();
  }
});

test('concurrent sessions each get a worker; at most two stay warm', async () => {
  const imgs = ['c1.img', 'c2.img', 'c3.img'].map(image);
  await Promise.all(
    imgs.map((img, i) =>
      withExt4(img, { offset: ROOT, write: true }, (ext4) =>
        ext4.writeFile('/etc/hostname', `kiosk-${i}\n`, { mode: 0o644 }),
      ),
    ),
  );
  assert.ok(ext4PoolState().idle <= 2);
  imgs.forEach((img, i) => {
    e2fsckClean(img);
    assert.equal(debugfs(img, 'cat /etc/hostname'), `kiosk-${i}\n`);
  });
});

test('warm workers do not keep a process alive', () => {
  const img = image('alive.img');
  const module = join(__dirname, '../../main/engine/fs/ext4-inject/index.js');
  // a prestart never released, and a worker back in the pool after a session: the process still ends by itself
  const script = `
    const { prestartExt4Workers, withExt4 } = require(${JSON.stringify(module)});
    prestartExt4Workers(2);
    withExt4(${JSON.stringify(img)}, { offset: ${ROOT} }, (s) => s.exists('/etc/hostname')).then((found) => {
      console.log('found', found);
    });`;
  const child = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(child.signal, null, 'the child had to be killed: something kept it alive');
  assert.equal(child.status, 0, child.stderr);
  assert.equal(child.stdout.trim(), 'found true');
});
