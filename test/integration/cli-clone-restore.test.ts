/**
 * `atlas clone` and `atlas restore` on cards, run as root as a script would (no TTY): they go through the same
 * rules and the same root broker as the app, which checks the card again right before opening it. The cards
 * are loop devices presented as USB cards by the fake lsblk; nothing here touches a disk of the machine.
 */
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { attachLoop, type LoopDevice } from '../support/loop';
import { installFakeLsblk, type FakeCard, type FakeLsblk } from '../support/fake-lsblk';
import { makeArmbianImage } from '../support/armbian';
import { isRoot, run, scratchDir } from '../support/sh';
import { createHandlers } from '../../main/app/handlers';
import { cloneManifestSha256 } from '../../main/engine/library/job-log';
import type { JobLogEntry, Reply } from '../../main/contract';

const skip = isRoot ? false : 'needs root for loop devices';
const TARGET_BYTES = 320 * 1024 * 1024;
const cli = join(__dirname, '../../main/cli/run.js');
let dir = '';
let cleanup = (): void => undefined;
let source: LoopDevice | null = null;
let target: LoopDevice | null = null;
let fake: FakeLsblk;
let folder = '';

/** Runs the CLI in the fake lsblk's mount namespace (the broker it starts looks for lsblk in /usr/bin only). */
function atlas(...args: string[]): {
  status: number | null;
  error?: string;
  result?: Record<string, unknown>;
} {
  const r = spawnSync(fake.brokerLauncher, [cli, ...args, '--json'], {
    // the job log goes to a config folder of the test's own, where the app's log:list reads it
    env: { ...process.env, PATH: fake.path, ATLAS_CONFIG_DIR: join(dir, 'config') },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const error = out.find((l) => l.type === 'error') as { code: string } | undefined;
  const result = out.find((l) => l.type === 'result');
  return { status: r.status, ...(error ? { error: error.code } : {}), ...(result ? { result } : {}) };
}

const headHash = (path: string): string =>
  run('bash', ['-c', `head -c 8388608 ${path} | sha256sum`]).split(' ')[0]!;

/** The two cards, `src` and `dst` applied to the source's and the target's entries. */
const cards = (src: Partial<FakeCard> = {}, dst: Partial<FakeCard> = {}): FakeCard[] => [
  { loop: source!.device, serial: 'SRC-1', ...src },
  { loop: target!.device, serial: 'DST-2', ...dst },
];

before(() => {
  if (!isRoot) return;
  ({ dir, cleanup } = scratchDir('atlas-cli-clone-'));
  makeArmbianImage(join(dir, 'kiosk.img'), { extraMib: 16 });
  run('truncate', ['-s', String(TARGET_BYTES), join(dir, 'blank.img')]);
  source = attachLoop(join(dir, 'kiosk.img'), { partitions: false });
  target = attachLoop(join(dir, 'blank.img'), { partitions: false });
  fake = installFakeLsblk(dir, cards());
});

after(() => {
  source?.detach();
  target?.detach();
  cleanup();
});

for (const [name, src, code] of [
  ['not removable', { removable: false, tran: 'sata' }, 'NOT_REMOVABLE'],
  ['the system disk', { holdsRoot: true }, 'SYSTEM_DISK'],
  ['swapped after it was listed (another serial)', { brokerSerial: 'SWAPPED' }, 'DRIVE_CHANGED'],
] as const) {
  test(`atlas clone refuses a card that is ${name}; nothing is created`, { skip }, () => {
    fake.set(cards(src));
    const r = atlas('clone', fake.deviceFor(source!.device), dir, '--tag', 'REFUSED');
    assert.equal(r.status, 1);
    assert.equal(r.error, code);
    assert.equal(existsSync(join(dir, 'golden-clone-REFUSED')), false);
    assert.equal(existsSync(join(dir, 'golden-clone-REFUSED.partial')), false);
  });
}

test('atlas clone of a card goes through the broker and gives a complete folder', { skip }, () => {
  fake.set(cards());
  const r = atlas('clone', fake.deviceFor(source!.device), dir, '--tag', 'CLI');
  assert.equal(r.status, 0, r.error);
  folder = (r.result as { folder: string }).folder;
  assert.equal(folder, join(dir, 'golden-clone-CLI'));
  assert.equal((r.result as { manifest: { source: { serial: string } } }).manifest.source.serial, 'SRC-1');
});

for (const [name, dst, code] of [
  ['not removable', { removable: false, tran: 'sata' }, 'NOT_REMOVABLE'],
  ['the system disk', { holdsRoot: true }, 'SYSTEM_DISK'],
  ['swapped after it was confirmed (another serial)', { brokerSerial: 'SWAPPED' }, 'DRIVE_CHANGED'],
] as const) {
  test(`atlas restore refuses a card that is ${name}; the card is untouched`, { skip }, () => {
    assert.ok(folder, 'the clone test ran first');
    fake.set(cards({}, dst));
    const before = headHash(target!.device);
    const r = atlas('restore', folder, fake.deviceFor(target!.device), '--yes');
    assert.equal(r.status, 1);
    assert.equal(r.error, code);
    assert.equal(headHash(target!.device), before);
  });
}

test('atlas restore onto a card: written through the broker, root grown', { skip }, () => {
  fake.set(cards());
  const r = atlas('restore', folder, fake.deviceFor(target!.device), '--yes');
  assert.equal(r.status, 0, r.error);
  assert.equal((r.result as { targets: Array<{ grow: string }> }).targets[0]!.grow, 'resized');
  const view = attachLoop(join(dir, 'blank.img'));
  try {
    run('e2fsck', ['-fn', view.partition(2)]);
  } finally {
    view.detach();
  }
});

test(
  "the CLI's jobs are in the app's job log: each clone and restore, refused or done, newest first",
  { skip },
  async () => {
    const app = createHandlers({
      version: '0',
      platform: 'linux',
      configDir: join(dir, 'config'),
      homeDir: dir,
      listDrives: async () => [],
      emit: () => undefined,
    });
    try {
      const reply = (await app.dispatch('log:list', {})) as Reply<JobLogEntry[]>;
      assert.ok(reply.ok, JSON.stringify(reply));
      const summary = reply.value.map((e) => `${e.job} ${e.result} ${e.error ?? ''}`.trim()).reverse();
      // a job the broker refuses once it started is logged, as the app logs its own; restore checks the rules
      // before it asks, so a card they refuse never starts a job there
      assert.deepEqual(summary, [
        'clone failed NOT_REMOVABLE',
        'clone failed SYSTEM_DISK',
        'clone failed DRIVE_CHANGED',
        'clone succeeded',
        'restore failed DRIVE_CHANGED',
        'restore succeeded',
      ]);
      const [restored, , cloned] = reply.value;
      const manifest = await cloneManifestSha256(folder);
      assert.ok(manifest);
      assert.deepEqual(
        { ...cloned, time: undefined },
        {
          time: undefined,
          job: 'clone',
          source: fake.deviceFor(source!.device),
          sha256: manifest,
          cards: [
            {
              device: fake.deviceFor(source!.device),
              model: cloned!.cards[0]!.model,
              serial: 'SRC-1',
              size: statSync(join(dir, 'kiosk.img')).size,
            },
          ],
          output: folder,
          result: 'succeeded',
          error: null,
        },
      );
      assert.match(cloned!.cards[0]!.model, /Test SD Reader/, 'the card as the drive list describes it');
      assert.equal(restored!.source, folder);
      assert.equal(restored!.sha256, manifest);
      assert.deepEqual(
        restored!.cards.map((c) => [c.device, c.serial, c.ok]),
        [[fake.deviceFor(target!.device), 'DST-2', true]],
      );
    } finally {
      await app.dispose();
    }
  },
);
