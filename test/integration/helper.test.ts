/**
 * The real drivelist path and the helper, with a fake `lsblk` first on PATH presenting this test's loop device
 * as a USB card (drivelist hides /dev/loop*). Nothing here touches a disk of the machine: every device named
 * is a loop device this file attached, seen through a symlink.
 */
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, constants, openSync, readSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import {
  listDrives,
  targetReasons,
  revalidateTarget,
  isSafeTarget,
  watchDrives,
  type Drive,
} from '../../main/engine/drives/index';
import { runInHelper, createHelperChannel } from '../../main/helper/launch';
import type { FlashResult } from '../../main/engine/jobs/flash';
import { isAtlasError } from '../../main/engine/errors';
import { attachLoop, type LoopDevice } from '../support/loop';
import { installFakeLsblk, type FakeLsblk } from '../support/fake-lsblk';
import { isRoot, scratchDir, shell, tryRun } from '../support/sh';

const skip = isRoot ? false : 'needs root for loop devices';
const IMG_MIB = 160;
const CARD_MIB = 200;
const CARD_BYTES = CARD_MIB * 1024 * 1024;

let dir = '';
let cleanup = (): void => undefined;
let image = '';
let loop: LoopDevice | null = null;
let fake: FakeLsblk;
let device = '';
const savedPath = process.env.PATH;
const helperEntry = join(__dirname, '../../main/helper/main.js');
/** The broker started directly (we are root), seeing the fake lsblk in its own mount namespace. */
const broker = () => ({ mode: 'direct' as const, entry: helperEntry, execPath: fake.brokerLauncher });

function firstBytes(n: number): string {
  const fd = openSync(device, 'r');
  const b = Buffer.alloc(n);
  readSync(fd, b, 0, n, 0);
  closeSync(fd);
  return b.toString('latin1');
}

function refill(): void {
  shell(
    `(yes CARDCARD || true) | head -c ${CARD_BYTES} | dd of=${loop!.device} bs=4M oflag=direct status=none`,
  );
}

before(() => {
  if (!isRoot) return;
  ({ dir, cleanup } = scratchDir('atlas-helper-'));
  image = join(dir, 'golden.img');
  shell(`IMG_MIB=${IMG_MIB} FAT_MIB=64 EXTRA_MIB=40 bash test/fixtures/make-armbian-image.sh ${image}`);
  shell(`truncate -s ${CARD_BYTES} ${join(dir, 'card.bin')}`);
  loop = attachLoop(join(dir, 'card.bin'), { partitions: false });
  refill();
  fake = installFakeLsblk(dir, [{ loop: loop.device, serial: 'SD-1234' }]);
  device = fake.deviceFor(loop.device);
  process.env.PATH = fake.path; // drivelist and the helper (spawned with this env) run the fake
});

after(() => {
  process.env.PATH = savedPath;
  loop?.detach();
  cleanup();
});

test('drivelist sees the loop device as a removable USB card with its serial', { skip }, async () => {
  fake.set([{ loop: loop!.device, serial: 'SD-1234' }]);
  const drives = await listDrives({ sourcePath: image });
  const d = drives.find((x) => x.device === device);
  assert.ok(d, `not listed: ${drives.map((x) => x.device).join(' ')}`);
  assert.equal(d.size, CARD_BYTES);
  assert.equal(d.bus, 'USB');
  assert.equal(d.removable, true);
  assert.equal(d.system, false);
  assert.equal(d.virtual, false);
  assert.equal(d.serial, 'SD-1234');
  assert.equal(d.containsSource, false);
  assert.deepEqual(targetReasons(d, { imageSize: IMG_MIB * 1024 * 1024 }), []);
  assert.equal(isSafeTarget(d, { imageSize: CARD_BYTES + 1 }), false);
  // the machine's own disk holds / and the test's source: never a safe target
  const root = drives.find((x) => x.holdsRoot);
  assert.ok(root, 'the system disk is listed');
  assert.equal(root.containsSource, true);
  assert.ok(targetReasons(root).some((r) => r.code === 'SYSTEM_DISK' && r.level === 'error'));
});

test('watchDrives reports a card pulled out and put back', { skip }, async () => {
  fake.set([{ loop: loop!.device, serial: 'SD-1234' }]);
  const seen: Drive[][] = [];
  let wake: (() => void) | null = null;
  const watcher = watchDrives((drives) => {
    seen.push(drives);
    wake?.();
  });
  const next = (): Promise<void> => new Promise((resolve) => (wake = resolve));
  try {
    await next();
    assert.ok(seen.at(-1)!.some((d) => d.device === device));
    fake.set([]); // pulled out: drivelist no longer sees it
    await next();
    assert.ok(!seen.at(-1)!.some((d) => d.device === device));
    fake.set([{ loop: loop!.device, serial: 'SD-1234' }]);
    await next();
    assert.ok(seen.at(-1)!.some((d) => d.device === device));
  } finally {
    watcher.stop();
  }
});

test('flash through the helper: re-validated, written, verified, cmp-equal', { skip }, async () => {
  fake.set([{ loop: loop!.device, serial: 'SD-1234' }]);
  refill();
  const stages = new Set<string>();
  let pid = 0;
  const result = await runInHelper<FlashResult>(
    'flash',
    {
      source: image,
      targets: [{ device, confirmed: { size: CARD_BYTES, serial: 'SD-1234' } }],
      eject: false,
    },
    { onProgress: (p) => stages.add(p.stage) },
    { ...broker(), onConnected: (p) => (pid = p) },
  );
  assert.equal(result.ok, true);
  assert.equal(result.verified, true);
  assert.deepEqual([...stages], ['writing', 'verifying']);
  assert.equal(tryRun('cmp', ['-n', String(result.imageSize), image, loop!.device]).status, 0);
  assert.ok(pid > 0);
  await waitGone(pid);
});

for (const [name, cards, confirmed, code] of [
  ['not removable', [{ removable: false }], { size: CARD_BYTES, serial: 'SD-1234' }, 'NOT_REMOVABLE'],
  ['the system disk', [{ holdsRoot: true }], { size: CARD_BYTES, serial: 'SD-1234' }, 'SYSTEM_DISK'],
  ['a different serial', [{}], { size: CARD_BYTES, serial: 'SD-9999' }, 'DRIVE_CHANGED'],
  ['a different size', [{}], { size: CARD_BYTES * 2, serial: 'SD-1234' }, 'DRIVE_CHANGED'],
  ['read-only (lock switch)', [{ readOnly: true }], { size: CARD_BYTES, serial: 'SD-1234' }, 'READ_ONLY'],
] as const) {
  test(`the helper refuses a target that is ${name}`, { skip }, async () => {
    fake.set([{ loop: loop!.device, serial: 'SD-1234', ...cards[0] }]);
    refill();
    await assert.rejects(
      runInHelper('flash', { source: image, targets: [{ device, confirmed }], eject: false }, {}, broker()),
      (error: unknown) => {
        assert.ok(isAtlasError(error, code), `${String(error)} (${(error as { code?: string }).code})`);
        return true;
      },
    );
    assert.equal(firstBytes(8), 'CARDCARD', 'the card was not touched');
    // the same rule in-process (the UI and the CLI use it too)
    await assert.rejects(revalidateTarget(device, confirmed), (e: unknown) => isAtlasError(e, code));
  });
}

test('a wrong token is refused and the real helper still gets in', { skip }, async () => {
  const channel = await createHelperChannel();
  try {
    assert.equal(statSync(channel.dir).mode & 0o777, 0o700);
    assert.equal(statSync(channel.tokenPath).mode & 0o777, 0o600);
    assert.ok(
      !channel.args.join(' ').includes(tryRun('cat', [channel.tokenPath]).stdout.trim()),
      'token not on argv',
    );
    const reply = await new Promise<string>((resolve) => {
      const s = connect(channel.socketPath);
      let text = '';
      s.on('connect', () => s.write(`${JSON.stringify({ type: 'hello', token: 'f'.repeat(64), pid: 1 })}\n`));
      s.on('data', (d) => (text += d.toString()));
      s.on('close', () => resolve(text));
      s.on('error', () => resolve(text));
    });
    assert.match(reply, /"refused"/);
    let connected = false;
    void channel.connected.then(
      () => (connected = true),
      () => undefined,
    );
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(connected, false);
    // the real helper, with the token from the file, still gets in and runs what it is sent
    const { spawn } = await import('node:child_process');
    const child = spawn(fake.brokerLauncher, [helperEntry, ...channel.args], { stdio: 'ignore' });
    const { socket } = await channel.connected;
    const answer = await new Promise<string>((resolve) => {
      let text = '';
      socket.on('data', (d) => (text += d.toString()));
      socket.on('close', () => resolve(text));
      socket.write(`${JSON.stringify({ type: 'run', job: 'no-such-job', options: {}, env: {} })}\n`);
    });
    assert.match(answer, /"type":"error".*INVALID_ARGUMENT.*no-such-job/);
    assert.equal(await new Promise((r) => child.once('exit', r)), 0);
  } finally {
    await channel.close();
  }
});

test(
  'cancel through the helper: CANCELLED, helper gone, device closed, no partition table',
  { skip },
  async () => {
    fake.set([{ loop: loop!.device, serial: 'SD-1234' }]);
    refill();
    const big = join(dir, 'big.img');
    shell(`cp ${image} ${big} && truncate -s ${CARD_BYTES} ${big}`);
    const controller = new AbortController();
    let pid = 0;
    await assert.rejects(
      runInHelper(
        'flash',
        {
          source: big,
          targets: [{ device, confirmed: { size: CARD_BYTES, serial: 'SD-1234' } }],
          eject: false,
        },
        {
          signal: controller.signal,
          // at the writing stage's first report: the old table is already zeroed, and the first report with
          // bytes comes 200 ms later, by when a 200 MiB card on a fast loop device may be written to the end
          onProgress: (p) => {
            if (p.stage === 'writing') controller.abort();
          },
        },
        { ...broker(), onConnected: (p) => (pid = p) },
      ),
      (error: unknown) => isAtlasError(error, 'CANCELLED'),
    );
    await waitGone(pid);
    closeSync(openSync(loop!.device, constants.O_RDWR | constants.O_EXCL));
    assert.ok(!firstBytes(8).startsWith('CARD'), 'the old layout is gone');
    assert.equal(firstBytes(512), '\0'.repeat(512), 'no partition table on a half-written card');
  },
);

test('the helper exits when the app goes away mid-job', { skip }, async () => {
  fake.set([{ loop: loop!.device, serial: 'SD-1234' }]);
  const big = join(dir, 'big.img');
  const channel = await createHelperChannel();
  const { spawn } = await import('node:child_process');
  const child = spawn(fake.brokerLauncher, [helperEntry, ...channel.args], { stdio: 'ignore' });
  try {
    const { socket } = await channel.connected;
    socket.write(
      `${JSON.stringify({
        type: 'run',
        job: 'flash',
        env: {},
        options: {
          source: big,
          targets: [{ device, confirmed: { size: CARD_BYTES, serial: 'SD-1234' } }],
          eject: false,
        },
      })}\n`,
    );
    await new Promise<void>((resolve) => socket.once('data', () => resolve())); // first progress
    socket.destroy();
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    assert.equal(code, 0);
    closeSync(openSync(loop!.device, constants.O_RDWR | constants.O_EXCL));
  } finally {
    if (child.exitCode === null) child.kill();
    await channel.close();
  }
});

async function waitGone(pid: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`helper ${pid} is still running`);
}
