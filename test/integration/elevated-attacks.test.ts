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
import { run } from '../support/sh';
import {
  appAsUser,
  mounted,
  personWithCard,
  runAsUser,
  STRANGER,
  userIds,
  type PersonWithCard,
} from '../support/elevated';
import type { AppAsUserOutput, AppJob } from '../support/app-as-user';

let f: PersonWithCard;
let dir = '';
let home = '';
let image = '';
let card = '';

before(() => {
  f = personWithCard('atlas-attacks-', 'ATTACK-01', { xz: true });
  ({ dir, home, image, card } = f);
});

after(() => f.cleanup());

/** The job started as the person; `result` resolves with what the app reported. */
function asUser(job: AppJob, options: { path?: string } = {}): { result: Promise<AppAsUserOutput> } {
  return { result: appAsUser(f, job, options) };
}

const cardHead = (): string =>
  run('sh', ['-c', `head -c 1048576 ${f.loop.device} | sha256sum`]).split(' ')[0]!;

const errorOf = (out: AppAsUserOutput): { code: string; message: string } | null =>
  out.outcome && !out.outcome.ok ? (out.outcome.error as { code: string; message: string }) : null;

test("a fake xz first in the person's PATH runs as the person, never as root", async () => {
  const bin = join(home, 'bin');
  mkdirSync(bin);
  const marks = join(home, 'xz-ran-as');
  mkdirSync(marks);
  const realXz = run('sh', ['-c', 'command -v xz']).trim();
  writeFileSync(join(bin, 'xz'), `#!/bin/sh\nid -u > ${marks}/$$\nexec ${realXz} "$@"\n`, { mode: 0o755 });
  for (const p of [bin, join(bin, 'xz'), marks]) chownSync(p, f.user.uid, f.user.gid);
  const out = await asUser(
    { job: 'flash', image: `${image}.xz`, cards: [card] },
    { path: `${bin}:/usr/local/bin:/usr/bin:/bin` },
  ).result;
  assert.ok(out.outcome?.ok, JSON.stringify(out));
  const uids = readdirSync(marks).map((f) => readFileSync(join(marks, f), 'utf8').trim());
  assert.ok(uids.length > 0, 'the fake xz was used (it is first in PATH)');
  assert.deepEqual([...new Set(uids)], [String(f.user.uid)]);
  run('cmp', ['-n', String(f.imageBytes), image, f.loop.device]);
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
  chownSync(build, f.user.uid, f.user.gid);
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
      { lsblk: f.fake.script },
    );
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /refuses this channel: PKEXEC_UID/);
    assert.equal(connected, false, 'the broker never connected to the stranger');
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});
