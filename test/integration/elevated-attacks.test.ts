/**
 * The attacks of issue 9 on the path a person takes (the app's production wiring as an unprivileged user, the
 * broker elevated through the real pkexec): each must fail without root reading, running or changing anything
 * outside the test folder and the card. Cards are loop devices presented as USB cards by the fake lsblk.
 */
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import {
  chownSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { attachLoop, type LoopDevice } from '../support/loop';
import { installFakeLsblk, type FakeLsblk } from '../support/fake-lsblk';
import { run, scratchDir, shell } from '../support/sh';
import {
  mounted,
  openUp,
  requireElevationRig,
  runAsUser,
  runScriptAsUser,
  STRANGER,
  userIds,
  type UserIds,
} from '../support/elevated';
import type { AppAsUserInput, AppAsUserOutput, AppJob } from '../support/app-as-user';

const IMG_MIB = 128;
const CARD_MIB = 160;
const driver = join(__dirname, '../support/app-as-user.js');

let user: UserIds;
let dir = '';
let cleanup = (): void => undefined;
let home = '';
let image = '';
let loop: LoopDevice | null = null;
let fake: FakeLsblk;
let card = '';

before(() => {
  user = requireElevationRig();
  ({ dir, cleanup } = scratchDir('atlas-attacks-'));
  openUp(dir);
  home = join(dir, 'home');
  mkdirSync(home);
  image = join(home, 'golden.img');
  shell(`IMG_MIB=${IMG_MIB} FAT_MIB=64 EXTRA_MIB=16 bash test/fixtures/make-armbian-image.sh ${image}`);
  shell(`xz -T0 -1 -k ${image}`);
  for (const p of [home, image, `${image}.xz`]) chownSync(p, user.uid, user.gid);
  shell(`truncate -s ${CARD_MIB}M ${join(dir, 'card.bin')}`);
  loop = attachLoop(join(dir, 'card.bin'), { partitions: false });
  fake = installFakeLsblk(dir, [{ loop: loop.device, serial: 'ATTACK-01' }]);
  card = fake.deviceFor(loop.device);
});

after(() => {
  loop?.detach();
  cleanup();
});

function asUser(job: AppJob, options: { path?: string } = {}) {
  const configDir = join(dir, 'config');
  mkdirSync(configDir, { recursive: true });
  chownSync(configDir, user.uid, user.gid);
  const input: AppAsUserInput = { configDir, homeDir: home, run: job };
  return {
    input,
    result: runScriptAsUser(driver, [JSON.stringify(input)], {
      lsblk: fake.script,
      ...(options.path ? { path: options.path } : {}),
    }).then((r) => {
      const line = r.stdout.split('\n').find((l) => l.startsWith('OUTCOME '));
      assert.ok(line, `no outcome (exit ${r.status}): ${r.stderr}${r.stdout}`);
      return JSON.parse(line.slice('OUTCOME '.length)) as AppAsUserOutput;
    }),
  };
}

const cardHead = (): string =>
  run('sh', ['-c', `head -c 1048576 ${loop!.device} | sha256sum`]).split(' ')[0]!;

const errorOf = (out: AppAsUserOutput): { code: string; message: string } | null =>
  out.outcome && !out.outcome.ok ? (out.outcome.error as { code: string; message: string }) : null;

test("a fake xz first in the person's PATH runs as the person, never as root", async () => {
  const bin = join(home, 'bin');
  mkdirSync(bin);
  const marks = join(home, 'xz-ran-as');
  mkdirSync(marks);
  const realXz = run('sh', ['-c', 'command -v xz']).trim();
  writeFileSync(join(bin, 'xz'), `#!/bin/sh\nid -u > ${marks}/$$\nexec ${realXz} "$@"\n`, { mode: 0o755 });
  for (const p of [bin, join(bin, 'xz'), marks]) chownSync(p, user.uid, user.gid);
  const out = await asUser(
    { job: 'flash', image: `${image}.xz`, cards: [card] },
    { path: `${bin}:/usr/local/bin:/usr/bin:/bin` },
  ).result;
  assert.ok(out.outcome?.ok, JSON.stringify(out));
  const uids = readdirSync(marks).map((f) => readFileSync(join(marks, f), 'utf8').trim());
  assert.ok(uids.length > 0, 'the fake xz was used (it is first in PATH)');
  assert.deepEqual([...new Set(uids)], [String(user.uid)]);
  run('cmp', ['-n', String(IMG_MIB * 1024 * 1024), image, loop!.device]);
});

test('a source image that is a symlink to /etc/shadow is refused, not read', async () => {
  const link = join(home, 'shadow.img');
  symlinkSync('/etc/shadow', link);
  const before = cardHead();
  const out = await asUser({ job: 'flash', image: link, cards: [card] }).result;
  assert.notEqual(out.outcome?.ok, true, JSON.stringify(out));
  const refused = out.refused as { ok: false; error?: { code: string } } | undefined;
  const code = errorOf(out)?.code ?? refused?.error?.code;
  assert.equal(code, 'PERMISSION_DENIED', JSON.stringify(out));
  assert.equal(cardHead(), before, 'the card is untouched');
});

test('the clone folder swapped for a symlink to a root-owned folder mid-job: root writes nothing there', async () => {
  const build = join(home, 'build');
  mkdirSync(build);
  chownSync(build, user.uid, user.gid);
  const rootOwned = join(dir, 'root-owned');
  mkdirSync(rootOwned, { mode: 0o755 });
  const job = asUser({ job: 'clone', card, tag: 'SWAP', outDir: build });
  // as soon as the job has started its folder, the build folder becomes a symlink to root's folder
  let swapped = false;
  for (let i = 0; i < 600 && !swapped; i++) {
    if (existsSync(join(build, 'golden-clone-SWAP.partial'))) {
      renameSync(build, `${build}.old`);
      symlinkSync(rootOwned, build);
      swapped = true;
    } else {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const out = await job.result;
  assert.ok(swapped, `the job never made its .partial folder: ${JSON.stringify(out)}`);
  assert.deepEqual(readdirSync(rootOwned), [], 'nothing was created in the root-owned folder');
  assert.notEqual(out.outcome?.ok, true, 'the rename into root-owned folder cannot succeed');
});

test("a stranger's channel: the broker elevated by someone else refuses it", async () => {
  const stranger = userIds(STRANGER);
  const channel = join(dir, 'stranger-channel');
  mkdirSync(channel, { mode: 0o700 });
  const socket = join(channel, 'helper.sock');
  const server: Server = createServer((s) => s.destroy());
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  try {
    writeFileSync(join(channel, 'token'), 'stranger-token\n', { mode: 0o600 });
    for (const p of [channel, socket, join(channel, 'token')]) chownSync(p, stranger.uid, stranger.gid);
    let connected = false;
    server.on('connection', () => (connected = true));
    const r = await runAsUser(
      [
        'pkexec',
        '--disable-internal-agent',
        '/usr/bin/env',
        `${process.execPath}`,
        mounted(join(__dirname, '../../main/helper/main.js')),
        `--socket=${socket}`,
        `--token-file=${join(channel, 'token')}`,
      ],
      { lsblk: fake.script },
    );
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /refuses this channel: PKEXEC_UID/);
    assert.equal(connected, false, 'the broker never connected to the stranger');
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});
