/**
 * ext4-inject against the real tools: what libext2fs writes must pass `e2fsck -fn` and read back the same
 * through debugfs; a read-only session must leave the file byte-identical.
 */
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { applyCapturedWrites, captureExt4Writes, openExt4, withExt4 } from '../../main/engine/fs/ext4-inject';
import { isAtlasError } from '../../main/engine/errors';
import { run, scratchDir, tryRun } from '../support/sh';
import { fixtureOffsets, makeArmbianImage } from '../support/armbian';
import { e2fsckClean as e2fsckCleanAt } from '../support/assert';

const ROOT = fixtureOffsets().root;
let dir: string;
let cleanup: () => void;
let base: string;

const sha = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');
const debugfs = (img: string, request: string): string =>
  run('debugfs', ['-R', request, `${img}?offset=${ROOT}`]);
const e2fsckClean = (img: string): void => e2fsckCleanAt(img, ROOT);

before(() => {
  ({ dir, cleanup } = scratchDir('atlas-ext4-'));
  base = makeArmbianImage(join(dir, 'base.img'));
});
after(() => cleanup());

test('a read-only session reads files and leaves the image byte-identical', async () => {
  const img = join(dir, 'ro.img');
  copyFileSync(base, img);
  const before = sha(img);
  await withExt4(img, { offset: ROOT }, async (ext4) => {
    const release = (await ext4.readFile('/etc/armbian-release')).toString();
    assert.match(release, /^BOARD=rpi4b$/m);
    assert.equal(await ext4.readlink('/bin'), 'usr/bin');
    assert.equal((await ext4.stat('/bin'))?.type, 'symlink');
    assert.equal((await ext4.stat('/etc'))?.type, 'directory');
    assert.equal(await ext4.stat('/nope'), null);
    assert.equal(await ext4.exists('/etc/hostname'), true);
    assert.ok((await ext4.readdir('/usr/lib/modules')).includes('6.18.9-current-bcm2711'));
  });
  assert.equal(sha(img), before);
});

test('captured writes leave the source untouched and, applied to a copy, give a clean filesystem', async () => {
  const source = join(dir, 'capture-src.img');
  const copy = join(dir, 'capture-copy.img');
  copyFileSync(base, source);
  copyFileSync(base, copy);
  const before = sha(source);
  const script = Buffer.from('#!/bin/sh\necho captured\n');
  const { writes } = await captureExt4Writes(source, { offset: ROOT }, async (ext4) => {
    await ext4.mkdirp('/usr/local/sbin');
    await ext4.writeFile('/usr/local/sbin/captured.sh', script, { mode: 0o755, uid: 0, gid: 0 });
    await ext4.symlink('/usr/local/sbin/captured.sh', '/etc/captured-link', { uid: 0, gid: 0 });
    // the session reads its own writes back before they reach any file
    assert.deepEqual(await ext4.readFile('/usr/local/sbin/captured.sh'), script);
  });
  assert.equal(sha(source), before, 'a capture session only reads its image');
  assert.ok(writes.length > 0);
  await applyCapturedWrites(copy, writes);
  e2fsckClean(copy);
  assert.equal(debugfs(copy, 'cat /usr/local/sbin/captured.sh'), script.toString());
  assert.match(debugfs(copy, 'stat /usr/local/sbin/captured.sh'), /Mode:\s+0755/);
  assert.match(debugfs(copy, 'stat /etc/captured-link'), /Fast link dest: "\/usr\/local\/sbin\/captured.sh"/);
});

test('writes files, directories and links that e2fsck accepts and debugfs reads back', async () => {
  const img = join(dir, 'rw.img');
  copyFileSync(base, img);
  // every byte value, so a text decoding anywhere would show
  const binary = Buffer.alloc(300_000);
  for (let i = 0; i < binary.length; i++) binary[i] = (i * 7919) & 0xff;
  await withExt4(img, { offset: ROOT, write: true }, async (ext4) => {
    await ext4.mkdirp('/opt/atlas/deep/er', { mode: 0o750, uid: 1000, gid: 1001 });
    await ext4.mkdirp('/opt/atlas/deep'); // existing: no error
    await ext4.writeFile('/opt/atlas/deep/er/blob.bin', binary, { mode: 0o640, uid: 1000, gid: 1001 });
    await ext4.writeFile('/sbin/through-link.sh', '#!/bin/sh\n', { mode: 0o755 });
    await ext4.writeFile('/etc/hostname', 'replaced\n', { mode: 0o644 });
    await ext4.symlink('/opt/atlas/deep/er/blob.bin', '/etc/blob-link');
    await assert.rejects(ext4.symlink('/x', '/etc/blob-link'), (e) => isAtlasError(e, 'ALREADY_EXISTS'));
    await ext4.symlink('/y', '/etc/blob-link', { replace: true });
    assert.ok((await ext4.readFile('/opt/atlas/deep/er/blob.bin')).equals(binary));
    assert.deepEqual(await ext4.stat('/opt/atlas/deep/er/blob.bin'), {
      type: 'file',
      mode: 0o640,
      uid: 1000,
      gid: 1001,
      size: binary.length,
    });
  });
  e2fsckClean(img);
  const out = join(dir, 'blob.out');
  debugfs(img, `dump /opt/atlas/deep/er/blob.bin ${out}`);
  assert.ok(readFileSync(out).equals(binary));
  const st = debugfs(img, 'stat /opt/atlas/deep/er/blob.bin');
  assert.match(st, /Mode: +0640/);
  assert.match(st, /User: +1000 +Group: +1001/);
  assert.match(debugfs(img, 'stat /opt/atlas/deep'), /Type: directory +Mode: +0750/);
  // /sbin is a link to usr/sbin in the fixture: the file lands there
  assert.equal(debugfs(img, 'cat /usr/sbin/through-link.sh'), '#!/bin/sh\n');
  assert.equal(debugfs(img, 'cat /etc/hostname'), 'replaced\n');
  assert.match(debugfs(img, 'stat /etc/blob-link'), /Fast link dest: "\/y"/);
});

test('errors are AtlasErrors that say what and where', async () => {
  const img = join(dir, 'err.img');
  copyFileSync(base, img);
  await assert.rejects(
    openExt4(img, { offset: 0 }),
    (e) => isAtlasError(e, 'FS_UNSUPPORTED') && /byte 0/.test(e.message),
  );
  await assert.rejects(openExt4(join(dir, 'missing.img'), { offset: ROOT }), (e) =>
    isAtlasError(e, 'NOT_FOUND'),
  );
  await withExt4(img, { offset: ROOT, write: true }, async (ext4) => {
    await assert.rejects(
      ext4.readFile('/nope/x'),
      (e) => isAtlasError(e, 'NOT_FOUND') && /\/nope\/x/.test(e.message),
    );
    await assert.rejects(ext4.mkdirp('/etc/hostname/sub'), (e) => isAtlasError(e, 'INVALID_ARGUMENT'));
    await assert.rejects(ext4.writeFile('/etc', 'x', { mode: 0o644 }), (e) =>
      isAtlasError(e, 'INVALID_ARGUMENT'),
    );
    await assert.rejects(ext4.writeFile('relative/path', 'x', { mode: 0o644 }), (e) =>
      isAtlasError(e, 'INVALID_ARGUMENT'),
    );
    // the session still works after a failed op
    assert.equal(await ext4.exists('/etc/hostname'), true);
  });
  e2fsckClean(img);
});

test('a full filesystem gives TARGET_TOO_SMALL, not a crash', async () => {
  // a small image (60 MiB root) keeps the write short
  const img = makeArmbianImage(join(dir, 'full.img'), { imgMib: 100, fatMib: 36 });
  const root = fixtureOffsets(36).root;
  const big = Buffer.alloc(70 * 1024 * 1024, 0x41);
  await withExt4(img, { offset: root, write: true }, async (ext4) => {
    await assert.rejects(ext4.writeFile('/big', big, { mode: 0o644 }), (e) =>
      isAtlasError(e, 'TARGET_TOO_SMALL'),
    );
  });
  assert.equal(tryRun('e2fsck', ['-fn', `${img}?offset=${root}`]).status, 0);
});

test('aborting ends the worker with CANCELLED', async () => {
  const img = join(dir, 'abort.img');
  copyFileSync(base, img);
  const controller = new AbortController();
  const session = await openExt4(img, { offset: ROOT, write: true, signal: controller.signal });
  const pending = session.writeFile('/x', Buffer.alloc(20 * 1024 * 1024, 1), { mode: 0o644 });
  controller.abort();
  await assert.rejects(pending, (e) => isAtlasError(e, 'CANCELLED'));
  await session.close(); // no throw after an abort
});

test('what a session keeps in memory (its reads, its small writes) reaches the file at close, also unsynced', async () => {
  const img = join(dir, 'kept.img');
  copyFileSync(base, img);
  const big = Buffer.alloc(200_000, 0x5a); // written straight through, between kept metadata writes
  await withExt4(img, { offset: ROOT, write: true, sync: false }, async (ext4) => {
    await ext4.mkdirp('/opt');
    for (let i = 0; i < 40; i++) {
      await ext4.writeFile(`/etc/kept-${i}`, `file ${i}\n`, { mode: 0o600, uid: i, gid: i });
      if (i === 20) await ext4.writeFile('/opt/big.bin', big, { mode: 0o644 });
    }
    for (let i = 0; i < 40; i += 2) await ext4.unlink(`/etc/kept-${i}`);
    // read back from what the session kept, before anything reached the file
    assert.equal((await ext4.readFile('/etc/kept-39')).toString(), 'file 39\n');
    assert.equal(await ext4.exists('/etc/kept-38'), false);
  });
  e2fsckClean(img);
  assert.equal(debugfs(img, 'cat /etc/kept-39'), 'file 39\n');
  assert.match(debugfs(img, 'stat /etc/kept-39'), /User: +39 +Group: +39/);
  assert.doesNotMatch(debugfs(img, 'ls /etc'), /kept-38/);
  const out = join(dir, 'big.out');
  debugfs(img, `dump /opt/big.bin ${out}`);
  assert.ok(readFileSync(out).equals(big));
});
