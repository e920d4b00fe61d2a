/**
 * `atlas drives` and `atlas flash` end to end, as a script would run them (no TTY), against this test's loop
 * device presented as a USB card by the fake lsblk.
 */
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { attachLoop, type LoopDevice } from '../support/loop';
import { installFakeLsblk, type FakeLsblk } from '../support/fake-lsblk';
import { isRoot, scratchDir, shell, tryRun } from '../support/sh';
import { goldenChecksumName } from '../../main/engine/library/catalog';
import type { JobLogEntry } from '../../main/contract';

const skip = isRoot ? false : 'needs root for loop devices';
const CARD_BYTES = 192 * 1024 * 1024;
const cli = join(__dirname, '../../main/cli/run.js');
let dir = '';
let cleanup = (): void => undefined;
let loop: LoopDevice | null = null;
let device = '';
let env: NodeJS.ProcessEnv = {};
let fake: FakeLsblk;

function atlas(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  // in the fake lsblk's mount namespace: the CLI starts the root broker, which looks for lsblk in /usr/bin only
  const r = spawnSync(fake.brokerLauncher, [cli, ...args], {
    env,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function lines(stdout: string): Array<Record<string, unknown>> {
  return stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

before(() => {
  if (!isRoot) return;
  ({ dir, cleanup } = scratchDir('atlas-cli-flash-'));
  shell(`IMG_MIB=160 FAT_MIB=64 EXTRA_MIB=40 bash test/fixtures/make-armbian-image.sh ${dir}/golden.img`);
  shell(`xz -T0 -1 -k ${dir}/golden.img`);
  // its checksum file, as vault sync writes one: the job log records the sha256 it holds
  shell(`cd ${dir} && sha256sum golden.img.xz > ${goldenChecksumName('golden.img.xz')}`);
  shell(`(yes CARDCARD || true) | head -c ${CARD_BYTES} > ${dir}/card.bin`);
  loop = attachLoop(join(dir, 'card.bin'), { partitions: false });
  fake = installFakeLsblk(dir, [{ loop: loop.device, serial: 'CLI-42', model: 'Cli Reader' }]);
  device = fake.deviceFor(loop.device);
  // the job log goes to a config folder of the test's own
  env = { ...process.env, PATH: fake.path, ATLAS_CONFIG_DIR: join(dir, 'config') };
});

after(() => {
  loop?.detach();
  cleanup();
});

test('atlas drives --json lists the card; --all adds the system disk with its reason', { skip }, () => {
  const r = atlas('drives', '--json');
  assert.equal(r.status, 0, r.stderr);
  const result = lines(r.stdout).find((l) => l.type === 'result') as {
    drives: Array<Record<string, unknown>>;
  };
  assert.deepEqual(
    result.drives.map((d) => [d.device, d.serial, d.size]),
    [[device, 'CLI-42', CARD_BYTES]],
  );
  const all = lines(atlas('drives', '--all', '--json').stdout).find((l) => l.type === 'result') as {
    drives: Array<{ holdsRoot: boolean; reasons: Array<{ code: string }> }>;
  };
  assert.ok(all.drives.some((d) => d.holdsRoot && d.reasons.some((x) => x.code === 'SYSTEM_DISK')));
});

test('atlas flash refuses without a terminal and without --yes; the card is untouched', { skip }, () => {
  const r = atlas('flash', join(dir, 'golden.img.xz'), device, '--no-eject');
  assert.equal(r.status, 1);
  assert.match(r.stderr, /--yes/);
  const fd = openSync(loop!.device, 'r');
  const b = Buffer.alloc(8);
  readSync(fd, b, 0, 8, 0);
  closeSync(fd);
  assert.equal(b.toString(), 'CARDCARD');
});

test('atlas flash refuses a drive it cannot see', { skip }, () => {
  const r = atlas('flash', join(dir, 'golden.img.xz'), loop!.device, '--yes', '--no-eject', '--json');
  assert.equal(r.status, 1);
  assert.equal(lines(r.stdout).find((l) => l.type === 'error')?.code, 'NOT_FOUND');
});

test('atlas flash --yes --json writes and verifies the card', { skip }, () => {
  const r = atlas('flash', join(dir, 'golden.img.xz'), device, '--yes', '--no-eject', '--json');
  assert.equal(r.status, 0, r.stderr);
  const out = lines(r.stdout);
  assert.ok(out.some((l) => l.type === 'progress' && l.stage === 'verifying'));
  const result = out.find((l) => l.type === 'result') as {
    ok: boolean;
    verified: boolean;
    imageSize: number;
  };
  assert.equal(result.ok, true);
  assert.equal(result.verified, true);
  assert.equal(
    tryRun('cmp', ['-n', String(result.imageSize), join(dir, 'golden.img'), loop!.device]).status,
    0,
  );
  // the CLI's flash is in the job log the app shows, as the app's own would be
  const log = atlas('log', '--json', '--last', '1');
  assert.equal(log.status, 0, log.stderr);
  const [entry] = (lines(log.stdout)[0] as { entries: JobLogEntry[] }).entries;
  assert.deepEqual(
    { ...entry, time: undefined },
    {
      time: undefined,
      job: 'flash',
      source: join(dir, 'golden.img.xz'),
      sha256: shell(`sha256sum ${dir}/golden.img.xz`).split(' ')[0],
      cards: [{ device, model: entry!.cards[0]!.model, serial: 'CLI-42', size: CARD_BYTES, ok: true }],
      result: 'succeeded',
      error: null,
    },
  );
  assert.match(entry!.cards[0]!.model, /Cli Reader/);
});
