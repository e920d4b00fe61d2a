/**
 * The path a person takes, end to end: the app's handlers and production wiring run as an unprivileged user,
 * the helper is elevated through the real pkexec and polkit (scripts/elevation-rig.sh), in the packaged app's
 * shape (the executable is Electron, which is Node only under ELECTRON_RUN_AS_NODE=1). Cards are loop devices
 * that the fake lsblk, bind-mounted over /usr/bin/lsblk in the run's own mount namespace, presents as USB cards
 * to the user's side and to root's helper alike.
 */
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { chownSync, lstatSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { attachLoop, type LoopDevice } from '../support/loop';
import { installFakeLsblk, type FakeLsblk } from '../support/fake-lsblk';
import { run, scratchDir, shell } from '../support/sh';
import {
  openUp,
  requireElevationRig,
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
let electron = '';
let loop: LoopDevice | null = null;
let fake: FakeLsblk;
let card = '';

before(() => {
  user = requireElevationRig();
  ({ dir, cleanup } = scratchDir('atlas-elevated-'));
  openUp(dir);
  // the person's own folder: the image, the build folder, the app's config
  home = join(dir, 'home');
  mkdirSync(home);
  image = join(home, 'golden.img');
  shell(`IMG_MIB=${IMG_MIB} FAT_MIB=64 EXTRA_MIB=16 bash test/fixtures/make-armbian-image.sh ${image}`);
  for (const p of [home, image]) chownSync(p, user.uid, user.gid);
  shell(`truncate -s ${CARD_MIB}M ${join(dir, 'card.bin')}`);
  loop = attachLoop(join(dir, 'card.bin'), { partitions: false });
  fake = installFakeLsblk(dir, [{ loop: loop.device, serial: 'ELEV-0001' }]);
  card = fake.deviceFor(loop.device);
  // Electron's binary: the app itself unless ELECTRON_RUN_AS_NODE=1 is in its environment
  electron = join(dir, 'electron');
  writeFileSync(
    electron,
    `#!/bin/sh\nif [ "$ELECTRON_RUN_AS_NODE" != 1 ]; then echo "electron stand-in: started as the app, not as Node" >&2; exit 99; fi\nexec ${process.execPath} "$@"\n`,
    { mode: 0o755 },
  );
});

after(() => {
  loop?.detach();
  cleanup();
});

async function asUser(job: AppJob, who = user.name): Promise<AppAsUserOutput> {
  const ids = userIds(who);
  const configDir = join(dir, `config-${who}`);
  mkdirSync(configDir, { recursive: true });
  chownSync(configDir, ids.uid, ids.gid);
  const input: AppAsUserInput = {
    configDir,
    homeDir: home,
    electron,
    run: job,
  };
  const r = await runScriptAsUser(driver, [JSON.stringify(input)], { user: who, lsblk: fake.script });
  const line = r.stdout.split('\n').find((l) => l.startsWith('OUTCOME '));
  assert.ok(line, `no outcome (exit ${r.status}): ${r.stderr}${r.stdout}`);
  return JSON.parse(line.slice('OUTCOME '.length)) as AppAsUserOutput;
}

function cardHead(): string {
  return run('sh', ['-c', `head -c 1048576 ${loop!.device} | sha256sum`]).split(' ')[0]!;
}

/** Every file and folder under `path` (itself included) with its owner. */
function owners(path: string): Array<{ path: string; uid: number }> {
  const here = [{ path, uid: lstatSync(path).uid }];
  if (!lstatSync(path).isDirectory()) return here;
  return here.concat(readdirSync(path).flatMap((name) => owners(join(path, name))));
}

test('flash as an unprivileged user: elevated through pkexec, written and verified', async () => {
  const out = await asUser({ job: 'flash', image, cards: [card] });
  assert.notEqual(out.uid, 0, 'the app side runs unprivileged');
  assert.ok(out.outcome?.ok, JSON.stringify(out));
  assert.ok(out.stages.includes('verifying'), `stages: ${out.stages.join(', ')}`);
  run('cmp', ['-n', String(IMG_MIB * 1024 * 1024), image, loop!.device]);
});

test('clone from a card as an unprivileged user: every file of the clone is theirs', async () => {
  const out = await asUser({ job: 'clone', card, tag: 'ELEV', outDir: home });
  assert.ok(out.outcome?.ok, JSON.stringify(out));
  const folder = join(home, 'golden-clone-ELEV');
  const notTheirs = owners(folder).filter((o) => o.uid !== user.uid);
  assert.deepEqual(notTheirs, [], 'files not owned by the person');
  assert.deepEqual(
    readdirSync(home).filter((n) => n.endsWith('.partial')),
    [],
    'no .partial left behind',
  );
});

test('restore onto a card as an unprivileged user: fsck clean', async () => {
  shell(`dd if=/dev/zero of=${loop!.device} bs=1M count=8 oflag=direct status=none`);
  const out = await asUser({ job: 'restore', folder: join(home, 'golden-clone-ELEV'), card });
  assert.ok(out.outcome?.ok, JSON.stringify(out));
  const view = attachLoop(join(dir, 'card.bin'));
  try {
    run('fsck.vfat', ['-n', view.partition(1)]);
    run('e2fsck', ['-fn', view.partition(2)]);
  } finally {
    view.detach();
  }
});

test('a user whom polkit refuses gets a clear refusal, and the card is untouched', async () => {
  const before = cardHead();
  const out = await asUser({ job: 'flash', image, cards: [card] }, STRANGER);
  assert.equal(out.outcome?.ok, false, JSON.stringify(out));
  const error = out.outcome && !out.outcome.ok ? out.outcome.error : null;
  assert.equal(error?.code, 'PERMISSION_DENIED', JSON.stringify(error));
  assert.equal(cardHead(), before);
});
