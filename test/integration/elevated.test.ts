/**
 * The path a person takes, end to end: the app's handlers and production wiring (and the CLI) run as an
 * unprivileged user, the helper is elevated through the real pkexec and polkit (scripts/elevation-rig.sh), in
 * the packaged app's shape (the executable is Electron, which is Node only under ELECTRON_RUN_AS_NODE=1). Cards
 * are loop devices that the fake lsblk, bind-mounted over /usr/bin/lsblk in the run's own mount namespace,
 * presents as USB cards to the user's side and to root's helper alike.
 */
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { DEPLOYMENTS_FILE } from '../../main/engine/library/deployments';
import { join } from 'node:path';
import { attachLoop } from '../support/loop';
import { run, shell } from '../support/sh';
import {
  appAsUser,
  mounted,
  personWithCard,
  runAsUser,
  STRANGER,
  type PersonWithCard,
} from '../support/elevated';

let f: PersonWithCard;
let electron = '';

before(() => {
  f = personWithCard('atlas-elevated-', 'ELEV-0001');
  // Electron's binary: the app itself unless ELECTRON_RUN_AS_NODE=1 is in its environment
  electron = join(f.dir, 'electron');
  writeFileSync(
    electron,
    `#!/bin/sh\nif [ "$ELECTRON_RUN_AS_NODE" != 1 ]; then echo "electron stand-in: started as the app, not as Node" >&2; exit 99; fi\nexec ${process.execPath} "$@"\n`,
    { mode: 0o755 },
  );
});

after(() => f.cleanup());

function cardHead(): string {
  return run('sh', ['-c', `head -c 1048576 ${f.loop.device} | sha256sum`]).split(' ')[0]!;
}

/** Every file and folder under `path` (itself included) with its owner. */
function owners(path: string): Array<{ path: string; uid: number }> {
  const here = [{ path, uid: lstatSync(path).uid }];
  if (!lstatSync(path).isDirectory()) return here;
  return here.concat(readdirSync(path).flatMap((name) => owners(join(path, name))));
}

test('flash as an unprivileged user: elevated through pkexec, written and verified', async () => {
  const out = await appAsUser(f, { job: 'flash', image: f.image, cards: [f.card] }, { electron });
  assert.notEqual(out.uid, 0, 'the app side runs unprivileged');
  assert.ok(out.outcome?.ok, JSON.stringify(out));
  assert.ok(out.stages.includes('verifying'), `stages: ${out.stages.join(', ')}`);
  run('cmp', ['-n', String(f.imageBytes), f.image, f.loop.device]);
});

test('clone from a card as an unprivileged user: every file of the clone is theirs', async () => {
  const out = await appAsUser(f, { job: 'clone', card: f.card, tag: 'ELEV', outDir: f.home }, { electron });
  assert.ok(out.outcome?.ok, JSON.stringify(out));
  const folder = join(f.home, 'golden-clone-ELEV');
  const notTheirs = owners(folder).filter((o) => o.uid !== f.user.uid);
  assert.deepEqual(notTheirs, [], 'files not owned by the person');
  assert.deepEqual(
    readdirSync(f.home).filter((n) => n.endsWith('.partial')),
    [],
    'no .partial left behind',
  );
});

test('restore onto a card as an unprivileged user: fsck clean', async () => {
  shell(`dd if=/dev/zero of=${f.loop.device} bs=1M count=8 oflag=direct status=none`);
  const folder = join(f.home, 'golden-clone-ELEV');
  const out = await appAsUser(f, { job: 'restore', folder, cards: [f.card], intent: 'exact' }, { electron });
  assert.ok(out.outcome?.ok && out.outcome.kind === 'restore', JSON.stringify(out));
  const card = out.outcome.value.targets[0]!;
  assert.deepEqual([card.device, card.ok, card.verified, card.hostname], [f.card, true, true, null]);
  // the deployment record, in the person's build folder and theirs (root never writes it)
  const record = join(f.home, 'atlas-build', DEPLOYMENTS_FILE);
  assert.equal(lstatSync(record).uid, f.user.uid);
  const lines = readFileSync(record, 'utf8').trim().split('\n');
  assert.equal(lines.length, 1);
  const entry = JSON.parse(lines[0]!) as {
    intent: string;
    ok: boolean;
    verified: boolean;
    card: { device: string };
  };
  assert.deepEqual(
    [entry.intent, entry.ok, entry.verified, entry.card.device],
    ['exact', true, true, f.card],
  );
  const view = attachLoop(join(f.dir, 'card.bin'));
  try {
    run('fsck.vfat', ['-n', view.partition(1)]);
    run('e2fsck', ['-fn', view.partition(2)]);
  } finally {
    view.detach();
  }
});

test('the CLI as an unprivileged user: atlas flash elevates through pkexec like the app', async () => {
  shell(`dd if=/dev/zero of=${f.loop.device} bs=1M count=8 oflag=direct status=none`);
  const cli = mounted(join(__dirname, '../../main/cli/run.js'));
  const r = await runAsUser([process.execPath, cli, 'flash', f.image, f.card, '--yes', '--json'], {
    lsblk: f.fake.script,
  });
  const lines = r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { type: string; code?: string });
  assert.equal(r.status, 0, `${r.stderr}${r.stdout}`);
  assert.ok(
    lines.some((l) => l.type === 'result'),
    r.stdout,
  );
  run('cmp', ['-n', String(f.imageBytes), f.image, f.loop.device]);
});

test('a user whom polkit refuses gets a clear refusal, and the card is untouched', async () => {
  const before = cardHead();
  const out = await appAsUser(
    f,
    { job: 'flash', image: f.image, cards: [f.card] },
    { who: STRANGER, electron },
  );
  assert.equal(out.outcome?.ok, false, JSON.stringify(out));
  const error = out.outcome && !out.outcome.ok ? out.outcome.error : null;
  assert.equal(error?.code, 'PERMISSION_DENIED', JSON.stringify(error));
  assert.equal(cardHead(), before);
});
