/**
 * Clone from a card and restore to a card through the elevated helper, as the app runs them: the helper checks
 * that each device is the card the person confirmed before reading or writing it. The cards are loop devices
 * presented as USB cards by the fake lsblk; nothing here touches a disk of the machine.
 */
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { runInHelper } from '../../main/helper/launch';
import type { CloneResult } from '../../main/engine/jobs/clone';
import type { RestoreResult } from '../../main/engine/jobs/restore';
import { verifyCloneFolder } from '../../main/engine/jobs/verify';
import { isAtlasError } from '../../main/engine/errors';
import { attachLoop, type LoopDevice } from '../support/loop';
import { installFakeLsblk, type FakeCard, type FakeLsblk } from '../support/fake-lsblk';
import { makeArmbianImage } from '../support/armbian';
import { isRoot, run, scratchDir, testUser, tryRun } from '../support/sh';

function restoreEnv(name: string, value: string | undefined): void {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}

const skip = isRoot ? false : 'needs root for loop devices';
/** The broker started directly (we are root), seeing the fake lsblk in its own mount namespace. */
const helper = () => ({
  mode: 'direct' as const,
  entry: join(__dirname, '../../main/helper/main.js'),
  execPath: fake.brokerLauncher,
});
const SOURCE_BYTES = 256 * 1024 * 1024;
const TARGET_BYTES = 320 * 1024 * 1024;

let dir = '';
let cleanup = (): void => undefined;
let source: LoopDevice | null = null;
let target: LoopDevice | null = null;
let fake: FakeLsblk;
const savedPath = process.env.PATH;
let folder = '';

const headHash = (path: string): string =>
  run('bash', ['-c', `head -c 8388608 ${path} | sha256sum`]).split(' ')[0]!;

/** The two USB cards the fake lsblk presents, `changes` applied to the target's entry. */
const cards = (changes: Partial<FakeCard> = {}): FakeCard[] => [
  { loop: source!.device, serial: 'SRC-1' },
  { loop: target!.device, serial: 'DST-2', ...changes },
];

/** Clones the source card through the helper into `outDir`, the person having confirmed a card with `serial`. */
const cloneInHelper = (serial: string, tag: string, outDir = dir) =>
  runInHelper<CloneResult>(
    'clone',
    { source: fake.deviceFor(source!.device), confirmed: { size: SOURCE_BYTES, serial }, outDir, tag },
    {},
    helper(),
  );

/** Restores the clone folder to the target card through the helper, the person having confirmed `serial`. */
const restoreInHelper = (serial: string) =>
  runInHelper<RestoreResult>(
    'restore',
    {
      folder,
      targets: [{ device: fake.deviceFor(target!.device), confirmed: { size: TARGET_BYTES, serial } }],
      intent: 'exact',
      grow: true,
    },
    {},
    helper(),
  );

before(() => {
  if (!isRoot) return;
  ({ dir, cleanup } = scratchDir('atlas-helper-clone-'));
  makeArmbianImage(join(dir, 'kiosk.img'), { extraMib: 16 });
  run('truncate', ['-s', String(TARGET_BYTES), join(dir, 'blank.img')]);
  source = attachLoop(join(dir, 'kiosk.img'), { partitions: false });
  target = attachLoop(join(dir, 'blank.img'), { partitions: false });
  fake = installFakeLsblk(dir, cards());
  process.env.PATH = fake.path;
});

after(() => {
  process.env.PATH = savedPath;
  source?.detach();
  target?.detach();
  cleanup();
});

test('a card cloned through the helper gives a complete, verifiable folder', { skip }, async () => {
  const result = await cloneInHelper('SRC-1', 'HELPER');
  folder = result.folder;
  assert.equal(result.manifest.source.serial, 'SRC-1');
  const verified = await verifyCloneFolder(folder);
  assert.equal(verified.images.length, 2);
});

test('under sudo the job runs as the person: every file of the clone is theirs', { skip }, async () => {
  const person = testUser();
  // the person's build folder, reachable by them; the card stays root's
  chmodSync(dir, 0o755);
  const build = join(dir, 'person-build');
  mkdirSync(build);
  chownSync(build, person.uid, person.gid);
  const saved = { uid: process.env.SUDO_UID, gid: process.env.SUDO_GID };
  process.env.SUDO_UID = String(person.uid);
  process.env.SUDO_GID = String(person.gid);
  try {
    const result = await cloneInHelper('SRC-1', 'PERSON', build);
    for (const path of [result.folder, ...readdirSync(result.folder).map((f) => join(result.folder, f))]) {
      const st = statSync(path);
      assert.deepEqual([st.uid, st.gid], [person.uid, person.gid], `${path} belongs to the person`);
    }
    // a folder the person cannot write is not written by root either
    const rootOnly = join(dir, 'root-only');
    mkdirSync(rootOnly, { mode: 0o755 });
    await assert.rejects(cloneInHelper('SRC-1', 'ROOTONLY', rootOnly), (error: unknown) =>
      isAtlasError(error, 'PERMISSION_DENIED'),
    );
    assert.deepEqual(readdirSync(rootOnly), []);
  } finally {
    restoreEnv('SUDO_UID', saved.uid);
    restoreEnv('SUDO_GID', saved.gid);
    chmodSync(dir, 0o700);
  }
});

test('the helper refuses to clone a card other than the confirmed one', { skip }, async () => {
  await assert.rejects(cloneInHelper('OTHER', 'NOPE'), (error: unknown) =>
    isAtlasError(error, 'DRIVE_CHANGED'),
  );
  assert.equal(tryRun('test', ['-e', join(dir, 'golden-clone-NOPE')]).status, 1);
});

test('the helper refuses to restore onto a card whose serial differs, before writing', { skip }, async () => {
  const before = headHash(target!.device);
  await assert.rejects(restoreInHelper('SWAPPED'), (error: unknown) => isAtlasError(error, 'DRIVE_CHANGED'));
  assert.equal(headHash(target!.device), before);
});

test('the helper refuses to restore onto a card that is not removable', { skip }, async () => {
  fake.set(cards({ removable: false, tran: 'sata' }));
  try {
    const before = headHash(target!.device);
    await assert.rejects(
      restoreInHelper('DST-2'),
      (error: unknown) => isAtlasError(error) && /NOT_REMOVABLE|SYSTEM_DISK/.test(error.code),
    );
    assert.equal(headHash(target!.device), before);
  } finally {
    fake.set(cards());
  }
});

test('restore through the helper onto a bigger card: fsck clean, root grown', { skip }, async () => {
  const result = await restoreInHelper('DST-2');
  assert.equal(result.targets[0]!.grow, 'resized', result.targets[0]!.growMessage);
  const view = attachLoop(join(dir, 'blank.img'));
  try {
    run('fsck.vfat', ['-n', view.partition(1)]);
    run('e2fsck', ['-fn', view.partition(2)]);
    const info = run('dumpe2fs', ['-h', view.partition(2)]);
    const bytes =
      Number(/Block count:\s+(\d+)/.exec(info)![1]) * Number(/Block size:\s+(\d+)/.exec(info)![1]);
    assert.ok(bytes > 250 * 1024 * 1024, `root was not grown: ${bytes}`);
  } finally {
    view.detach();
  }
});
