/**
 * A deploy onto two cards by the CLI as an unprivileged user, elevated through the real pkexec and polkit
 * (scripts/elevation-rig.sh): root's broker opens the cards, the job runs as the person, and the deployment
 * record in the person's build folder is theirs. Cards are loop devices presented as USB cards by the fake lsblk.
 */
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, readFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RestoreResult } from '../../main/engine/jobs/restore';
import { DEPLOYMENTS_FILE } from '../../main/engine/library/deployments';
import { attachLoop, type LoopDevice } from '../support/loop';
import { installFakeLsblk, type FakeLsblk } from '../support/fake-lsblk';
import { bootedClone, debugfsCat, fsckClean, partitionStart } from '../support/deploy-fixture';
import { mounted, openUp, requireElevationRig, runAsUser, type UserIds } from '../support/elevated';
import { run, scratchDir } from '../support/sh';

const CARD_MIB = 224;
let user: UserIds;
let dir = '';
let home = '';
let cleanup = (): void => undefined;
let folder = '';
let root = 0;
const loops: LoopDevice[] = [];
let fake: FakeLsblk;

before(async () => {
  user = requireElevationRig();
  ({ dir, cleanup } = scratchDir('atlas-elevated-deploy-'));
  openUp(dir);
  home = join(dir, 'home');
  mkdirSync(home);
  const made = await bootedClone(home, 'ELEVDEPLOY');
  // the person's settings: their build folder (where the record goes) is `home`
  mkdirSync(join(home, 'config'));
  writeFileSync(join(home, 'config', 'settings.json'), JSON.stringify({ buildFolder: home }));
  folder = made.folder;
  root = partitionStart(made.image, 2);
  run('chown', ['-R', `${user.uid}:${user.gid}`, home]);
  for (const i of [1, 2]) {
    run('truncate', ['-s', `${CARD_MIB}M`, join(dir, `card${i}.bin`)]);
    loops.push(attachLoop(join(dir, `card${i}.bin`), { partitions: false }));
  }
  fake = installFakeLsblk(
    dir,
    loops.map((l, i) => ({ loop: l.device, serial: `ELEV-D${i + 1}` })),
  );
});

after(() => {
  for (const l of loops) l.detach();
  cleanup();
});

test('atlas restore onto two cards as an unprivileged user: deployed through pkexec, the record theirs', async () => {
  const cli = mounted(join(__dirname, '../../main/cli/run.js'));
  const cards = loops.map((l) => fake.deviceFor(l.device));
  const r = await runAsUser(
    [process.execPath, cli, 'restore', folder, ...cards, '--hostname', 'kiosk-{serial}', '--yes', '--json'],
    { lsblk: fake.script, env: { ATLAS_CONFIG_DIR: join(home, 'config') } },
  );
  assert.equal(r.status, 0, `${r.stderr}${r.stdout}`);
  const result = r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { type: string } & RestoreResult)
    .find((l) => l.type === 'result')!;
  assert.equal(result.intent, 'deploy');
  assert.deepEqual(
    result.targets.map((t) => [t.ok, t.verified, t.grow, t.hostname]),
    [
      [true, true, 'resized', 'kiosk-elev-d1'],
      [true, true, 'resized', 'kiosk-elev-d2'],
    ],
  );
  for (const [i, name] of ['card1.bin', 'card2.bin'].entries()) {
    const card = join(dir, name);
    fsckClean(card, attachLoop);
    assert.equal(debugfsCat(card, root, '/etc/hostname'), `kiosk-elev-d${i + 1}`);
    assert.equal(debugfsCat(card, root, '/etc/machine-id'), '');
  }
  const record = join(home, DEPLOYMENTS_FILE);
  assert.equal(lstatSync(record).uid, user.uid, 'the record belongs to the person');
  const lines = readFileSync(record, 'utf8').trim().split('\n');
  assert.equal(lines.length, 2);
});
