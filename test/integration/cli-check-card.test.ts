/**
 * `atlas check-card` through the root broker, as root (a script's path): a genuine card and a fake-capacity card
 * made with the fault card (a FUSE file wrapping writes past 16 MiB), both presented as USB cards by the fake lsblk.
 */
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { attachLoop, type LoopDevice } from '../support/loop';
import { installFakeLsblk, type FakeLsblk } from '../support/fake-lsblk';
import { makeFaultCard, type FaultCard } from '../support/fault-card';
import { scratchDir, shell } from '../support/sh';

const MIB = 1024 * 1024;
const cli = join(__dirname, '../../main/cli/run.js');
let dir = '';
let cleanup = (): void => undefined;
let genuine: LoopDevice | null = null;
let fakeCard: FaultCard | null = null;
let fake: FakeLsblk;

function atlas(...args: string[]): { status: number | null; lines: Array<Record<string, unknown>> } {
  const r = spawnSync(fake.brokerLauncher, [cli, ...args, '--json'], {
    env: { ...process.env, PATH: fake.path },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines = r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { status: r.status, lines };
}

before(async () => {
  ({ dir, cleanup } = scratchDir('atlas-cli-check-'));
  shell(`head -c ${64 * MIB} /dev/urandom > ${join(dir, 'genuine.bin')}`);
  genuine = attachLoop(join(dir, 'genuine.bin'), { partitions: false });
  fakeCard = await makeFaultCard(join(dir, 'fake'), 128 * MIB, { realCapacity: 16 * MIB });
  fake = installFakeLsblk(dir, [
    { loop: genuine.device, serial: 'GENUINE-1' },
    { loop: fakeCard.loop.device, serial: 'FAKE-64G' },
  ]);
});

after(async () => {
  genuine?.detach();
  await fakeCard?.close();
  cleanup();
});

test('a genuine card: it holds what it claims, and keeps its data', () => {
  const before = shell(`sha256sum < ${genuine!.device}`);
  const r = atlas('check-card', fake.deviceFor(genuine!.device), '--yes');
  assert.equal(r.status, 0, JSON.stringify(r.lines));
  const result = r.lines.find((l) => l.type === 'result') as { result?: { verdict: string } } & Record<
    string,
    unknown
  >;
  assert.equal((result.result ?? result).verdict, 'genuine', JSON.stringify(result));
  assert.equal(shell(`sha256sum < ${genuine!.device}`), before);
});

test('a fake card is called fake, with its real size, and the command fails', () => {
  const r = atlas('check-card', fake.deviceFor(fakeCard!.loop.device), '--yes');
  assert.equal(r.status, 1, JSON.stringify(r.lines));
  const error = r.lines.find((l) => l.type === 'error') as { code: string; message: string };
  assert.equal(error.code, 'FAKE_CAPACITY');
  assert.match(error.message, /FAKE card.*claims 128(\.0)? MiB.*at most 16(\.0)? MiB/);
});
