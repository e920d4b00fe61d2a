/**
 * `atlas restore` of one clone onto four cards as a deploy, through the root broker as a script runs it: each card
 * a device of its own and otherwise the clone, and one line per card in the build folder's deployment record.
 * The oracle for "otherwise the clone": an exact restore of the same clone onto an image file of the card's size,
 * compared file by file and block by block (deploy-fixture.ts identityOnlyDifferences): only the identity files
 * listed below, and the directories and metadata that hold them, may differ.
 * The cards are loop devices presented as USB cards by the fake lsblk; nothing here touches a disk of the machine.
 */
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { restoreJob, type RestoreResult } from '../../main/engine/jobs/restore';
import { localCardAccess } from '../../main/engine/drives/index';
import { DEPLOYMENTS_FILE, readDeployments } from '../../main/engine/library/deployments';
import { MANIFEST_FILE } from '../../main/engine/library/clone-folder';
import { attachLoop, type LoopDevice } from '../support/loop';
import { installFakeLsblk, type FakeLsblk } from '../support/fake-lsblk';
import {
  bootedClone,
  debugfsCat,
  debugfsStat,
  differingBlocks,
  fsckClean,
  identityOnlyDifferences,
  partitionStart,
  SOURCE_HOST_KEYS,
  SOURCE_IMAGE_UUID,
} from '../support/deploy-fixture';
import { isRoot, run, scratchDir, shell } from '../support/sh';

const skip = isRoot ? false : 'needs root for loop devices';
const CARD_BYTES = 224 * 1024 * 1024;
const CARDS = 4;
const cli = join(__dirname, '../../main/cli/run.js');
let dir = '';
let cleanup = (): void => undefined;
let folder = '';
let loops: LoopDevice[] = [];
let fake: FakeLsblk;

const cardFile = (i: number): string => join(dir, `card${i + 1}.img`);

/** The CLI's environment: the fake lsblk first on PATH, and settings whose build folder (the record's) is `dir`. */
function cliEnv(): NodeJS.ProcessEnv {
  const config = join(dir, 'config');
  mkdirSync(config, { recursive: true });
  writeFileSync(join(config, 'settings.json'), JSON.stringify({ buildFolder: dir }));
  return { ...process.env, PATH: fake.path, ATLAS_CONFIG_DIR: config };
}
const FIRSTRUN_LINK = '/etc/systemd/system/multi-user.target.wants/armbian-firstrun.service';
const FIRSTRUN_UNIT = '/usr/lib/systemd/system/armbian-firstrun.service';
const FIRSTRUN_DEFAULTS = '/etc/default/armbian-firstrun';
const IMAGE_RELEASE = '/etc/armbian-image-release';
/** All a deploy may change in the root filesystem (with the directories holding these, and their metadata). */
const IDENTITY_PATHS = [
  '/etc/machine-id',
  '/var/lib/dbus/machine-id',
  ...SOURCE_HOST_KEYS,
  '/etc/hostname',
  '/etc/hosts',
  FIRSTRUN_DEFAULTS,
  FIRSTRUN_LINK,
  IMAGE_RELEASE,
];

function atlas(...args: string[]): {
  status: number | null;
  error?: string;
  result?: RestoreResult;
  stderr: string;
} {
  const r = spawnSync(fake.brokerLauncher, [cli, ...args, '--json'], {
    env: cliEnv(),
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const error = out.find((l) => l.type === 'error') as { code: string } | undefined;
  const result = out.find((l) => l.type === 'result') as RestoreResult | undefined;
  return {
    status: r.status,
    stderr: r.stderr,
    ...(error ? { error: error.code } : {}),
    ...(result ? { result } : {}),
  };
}

before(async () => {
  if (!isRoot) return;
  ({ dir, cleanup } = scratchDir('atlas-deploy-'));
  ({ folder } = await bootedClone(dir, 'FLEET'));
  for (let i = 0; i < CARDS; i++) {
    run('truncate', ['-s', String(CARD_BYTES), cardFile(i)]);
    loops.push(attachLoop(cardFile(i), { partitions: false }));
  }
  fake = installFakeLsblk(
    dir,
    loops.map((l, i) => ({ loop: l.device, serial: `FLEET-${i + 1}` })),
  );
});

after(() => {
  for (const l of loops) l.detach();
  loops = [];
  cleanup();
});

test(
  'one deploy writes four cards: each clean, the clone but for its own identity; four lines recorded',
  { skip },
  async () => {
    const devices = loops.map((l) => fake.deviceFor(l.device));
    const r = atlas(
      'restore',
      folder,
      ...devices,
      '--hostname',
      'atlas-{n:03}',
      '--no-grow',
      '--no-eject',
      '--yes',
    );
    assert.equal(r.status, 0, `${r.error} ${r.stderr}`);
    const result = r.result!;
    assert.equal(result.intent, 'deploy', 'several cards are a deploy by default');
    assert.equal(result.ok, true);
    assert.deepEqual(
      result.targets.map((t) => [t.device, t.ok, t.verified, t.hostname]),
      devices.map((d, i) => [d, true, true, `atlas-00${i + 1}`]),
    );

    // the oracle: an exact restore of the same clone onto an image file of the card's size
    const exact = join(dir, 'exact.img');
    run('truncate', ['-s', String(CARD_BYTES), exact]);
    await restoreJob({
      folder,
      targets: [{ device: exact }],
      intent: 'exact',
      grow: false,
      access: localCardAccess(),
    });
    const root = partitionStart(exact, 2);

    // the clone is a kiosk after its first boot: nothing in it would make it a device of its own
    const release = debugfsCat(exact, root, IMAGE_RELEASE);
    assert.match(release, new RegExp(`^IMAGE_UUID=${SOURCE_IMAGE_UUID}$`, 'm'));
    assert.equal(debugfsStat(exact, root, FIRSTRUN_LINK), null, 'armbian-firstrun is disabled in the clone');
    assert.equal(debugfsCat(exact, root, FIRSTRUN_DEFAULTS), 'OPENSSHD_REGENERATE_HOST_KEYS=false');
    for (const key of SOURCE_HOST_KEYS) assert.ok(debugfsStat(exact, root, key), `${key} is in the clone`);
    assert.equal(debugfsStat(exact, root, '/etc/machine-id')?.size, 33);
    const releaseWithoutUuid = release
      .split('\n')
      .filter((l) => !l.startsWith('IMAGE_UUID='))
      .join('\n');

    for (let i = 0; i < CARDS; i++) {
      const card = cardFile(i);
      const n = `card ${i + 1}`;
      assert.deepEqual(
        result.targets[i]!.identityChanges.map((c) => c.slice(0, c.indexOf(':'))).sort(),
        [
          '/etc/machine-id',
          '/etc/ssh',
          FIRSTRUN_DEFAULTS,
          FIRSTRUN_LINK,
          '/etc/hostname',
          '/etc/hosts',
          IMAGE_RELEASE,
        ].sort(),
        `${n}: the changes listed`,
      );
      fsckClean(card, attachLoop);
      // an empty machine ID, not a missing one (debugfs `cat` prints nothing for either)
      const machineId = debugfsStat(card, root, '/etc/machine-id');
      assert.ok(machineId, `${n}: /etc/machine-id is missing`);
      assert.deepEqual([machineId.type, machineId.size], ['regular', 0], `${n}: /etc/machine-id`);
      assert.equal(debugfsCat(card, root, '/etc/hostname'), `atlas-00${i + 1}`);
      assert.match(
        debugfsCat(card, root, '/etc/hosts'),
        new RegExp(`^127\\.0\\.1\\.1\\tatlas-00${i + 1}$`, 'm'),
      );
      assert.doesNotMatch(debugfsCat(card, root, '/etc/hosts'), /kiosk-src/);
      const ssh = run('debugfs', ['-R', 'ls /etc/ssh', `${card}?offset=${root}`]);
      assert.doesNotMatch(ssh, /ssh_host_/);
      assert.match(ssh, /sshd_config/, `${n}: the rest of /etc/ssh is kept`);
      for (const key of SOURCE_HOST_KEYS) assert.equal(debugfsStat(card, root, key), null, `${n}: ${key}`);
      // the regeneration armed: the flag, and armbian-firstrun enabled again
      assert.equal(
        debugfsCat(card, root, FIRSTRUN_DEFAULTS),
        'OPENSSHD_REGENERATE_HOST_KEYS=true',
        `${n}: ${FIRSTRUN_DEFAULTS}`,
      );
      const link = debugfsStat(card, root, FIRSTRUN_LINK);
      assert.ok(link, `${n}: armbian-firstrun is not enabled (no ${FIRSTRUN_LINK})`);
      assert.deepEqual([link.type, link.link], ['symlink', FIRSTRUN_UNIT], `${n}: ${FIRSTRUN_LINK}`);
      // IMAGE_UUID dropped, the rest of the release file kept
      assert.equal(debugfsCat(card, root, IMAGE_RELEASE), releaseWithoutUuid, `${n}: ${IMAGE_RELEASE}`);

      // otherwise the clone: nothing else differs, file by file and block by block
      assert.deepEqual(identityOnlyDifferences(exact, card, root, dir, IDENTITY_PATHS), [], n);
    }

    const records = await readDeployments(dir);
    assert.equal(readFileSync(join(dir, DEPLOYMENTS_FILE), 'utf8').trim().split('\n').length, CARDS);
    const manifestSha256 = createHash('sha256')
      .update(readFileSync(join(folder, MANIFEST_FILE)))
      .digest('hex');
    assert.deepEqual(
      records
        .map((x) => [x.card.device, x.card.serial, x.card.size, x.hostname, x.verified, x.ok, x.intent])
        .sort(),
      devices
        .map((d, i) => [d, `FLEET-${i + 1}`, CARD_BYTES, `atlas-00${i + 1}`, true, true, 'deploy'])
        .sort(),
    );
    for (const x of records) {
      assert.equal(x.clone, 'golden-clone-FLEET');
      assert.equal(x.cloneTag, 'FLEET');
      assert.equal(x.manifestSha256, manifestSha256);
      assert.equal(x.error, null);
    }
  },
);

test('an exact restore leaves a card byte-equal to real partclone restoring the same clone', { skip }, () => {
  // the oracle starts from what the card holds now (the free space of a restore keeps the card's old data)
  const oracle = join(dir, 'oracle.img');
  run('cp', ['--sparse=always', cardFile(0), oracle]);
  const device = fake.deviceFor(loops[0]!.device);
  const r = atlas('restore', folder, device, '--no-grow', '--no-eject', '--yes');
  assert.equal(r.status, 0, `${r.error} ${r.stderr}`);
  assert.equal(r.result!.intent, 'exact', 'one card is an exact restore by default');
  assert.equal(r.result!.targets[0]!.verified, true);
  assert.deepEqual(r.result!.targets[0]!.identityChanges, []);

  run('sfdisk', ['-q', '--no-reread', oracle], { input: readFileSync(join(folder, 'partition-table.dump')) });
  const view = attachLoop(oracle);
  try {
    for (const [n, name, tool] of [
      [1, 'boot', 'partclone.fat32'],
      [2, 'root', 'partclone.ext4'],
    ] as const) {
      shell(
        `pigz -dc ${folder}/*${n}-${name}.partclone.gz | ${tool} -r -s - -o ${view.partition(n)} -L ${dir}/log`,
      );
    }
  } finally {
    view.detach();
  }
  assert.deepEqual(differingBlocks(oracle, cardFile(0)), []);
});

test(
  'a deploy without a hostname pattern names the cards atlas-{n:03}, numbered on from the record',
  { skip },
  () => {
    const devices = loops.slice(0, 2).map((l) => fake.deviceFor(l.device));
    const given = readFileSync(join(dir, DEPLOYMENTS_FILE), 'utf8').trim().split('\n').length;
    const r = atlas('restore', folder, ...devices, '--no-grow', '--no-eject', '--yes');
    assert.equal(r.status, 0, `${r.error} ${r.stderr}`);
    assert.equal(r.result!.intent, 'deploy', 'two cards are a deploy by default');
    // the first test gave atlas-001 … atlas-004: a second batch goes on, it does not name two kiosks atlas-001
    assert.deepEqual(
      r.result!.targets.map((t) => [t.ok, t.verified, t.hostname]),
      [
        [true, true, 'atlas-005'],
        [true, true, 'atlas-006'],
      ],
    );
    assert.equal(debugfsCat(cardFile(1), partitionStart(cardFile(1), 2), '/etc/hostname'), 'atlas-006');
    const lines = readFileSync(join(dir, DEPLOYMENTS_FILE), 'utf8').trim().split('\n');
    assert.equal(lines.length, given + 2);
    // `atlas library` shows the build folder's record, newest first
    const library = spawnSync(process.execPath, [cli, 'library'], { env: cliEnv(), encoding: 'utf8' });
    assert.equal(library.status, 0, library.stderr);
    assert.match(library.stdout, new RegExp(`deployments: ${given + 2} cards`));
    assert.match(
      library.stdout,
      /\n {4}\S+ \S+ {2}atlas-006 {2}.*serial FLEET-2 {2}golden-clone-FLEET {2}verified\n {4}.* {2}atlas-005 /,
    );

    const before = join(dir, 'before.img');
    run('cp', ['--sparse=always', cardFile(0), before]);
    const twice = atlas('restore', folder, devices[0]!, devices[0]!, '--hostname', 'a-{n}', '--yes');
    assert.equal(twice.error, 'INVALID_ARGUMENT', 'the same card twice');
    assert.deepEqual(differingBlocks(before, cardFile(0)), []);
  },
);
