/**
 * Restore and deploy through the app's handlers: the request's checks (1–16 distinct cards, each a permissible
 * target, the intent, a hostname pattern that names every card apart), what the device job receives (the
 * hostnames in the order the person chose the cards), the deployment record written after it, and Check this
 * card. The device job is a stand-in here; the engine's own tests write real cards.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import {
  createHandlers,
  deviceJobRunner,
  type DeviceJobRequests,
  type DeviceJobRunners,
} from '../../../main/app/handlers';
import { AtlasError } from '../../../main/engine/errors';
import { DEPLOYMENTS_FILE, readDeployments } from '../../../main/engine/library/deployments';
import type {
  CheckCardResult,
  DeploymentRecord,
  Drive,
  EventOf,
  JobLogEntry,
  Reply,
  RestoreResult,
} from '../../../main/contract';
import { card, snapshotOf, SYSTEM_DISK } from '../../support/drives';
import { scratchDir } from '../../support/sh';

const MANIFEST = '{"format":"atlas-clone","phase":1,"tag":"KIOSK","files":[]}';
const CARDS: Drive[] = ['w', 'x', 'y', 'z'].map((l, i) =>
  card({
    device: `/dev/sd${l}`,
    description: `Card ${l.toUpperCase()}`,
    serial: `SER-${l.toUpperCase()}${i}`,
  }),
);

interface Calls {
  restore: Array<DeviceJobRequests['restore']>;
  'check-card': Array<DeviceJobRequests['check-card']>;
}

function setup(runners: Partial<DeviceJobRunners> = {}, drives: Drive[] = [...CARDS, SYSTEM_DISK]) {
  const { dir, cleanup } = scratchDir('atlas-deploy-');
  const finished: Array<EventOf<'job:finished'>> = [];
  const calls: Calls = { restore: [], 'check-card': [] };
  const unused = async (): Promise<never> => {
    throw new Error('not used in this test');
  };
  const app = createHandlers({
    version: '0',
    platform: 'linux',
    configDir: join(dir, 'config'),
    homeDir: dir,
    listDrives: async () => drives,
    emit: (event, payload) => {
      if (event === 'job:finished') finished.push(payload as EventOf<'job:finished'>);
    },
    runDeviceJob: deviceJobRunner({
      flash: unused,
      clone: unused,
      restore: async (r, control) => {
        calls.restore.push(r);
        return (runners.restore ?? okRestore)(r, control);
      },
      'check-card': async (r, control) => {
        calls['check-card'].push(r);
        return (runners['check-card'] ?? unused)(r, control);
      },
    }),
  });
  const folder = join(dir, 'golden-clone-KIOSK');
  mkdirSync(folder);
  writeFileSync(join(folder, 'atlas-manifest.json'), MANIFEST);
  // what a card must hold is read from the clone's layout before the job starts: 8 MiB here
  writeFileSync(
    join(folder, 'partition-table.dump'),
    'label: dos\nunit: sectors\n\n/dev/sdc1 : start=8192, size=8192, type=83\n',
  );
  const buildFolder = join(dir, 'atlas-build');
  const run = async (channel: string, request: unknown): Promise<EventOf<'job:finished'>['outcome']> => {
    const reply = (await app.dispatch(channel, request)) as Reply<{ jobId: string }>;
    assert.ok(reply.ok, JSON.stringify(reply));
    for (;;) {
      const done = finished.find((f) => f.jobId === reply.value.jobId);
      if (done) return done.outcome;
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  const refused = async (channel: string, request: unknown): Promise<{ code: string; message: string }> => {
    const reply = await app.dispatch(channel, request);
    assert.equal(reply.ok, false, `expected a refusal of ${JSON.stringify(request)}`);
    return (reply as { ok: false; error: { code: string; message: string } }).error;
  };
  return { app, dir, folder, buildFolder, calls, run, refused, cleanup };
}

/** Every card written and verified, each with its hostname. */
async function okRestore(r: DeviceJobRequests['restore']): Promise<RestoreResult> {
  return {
    folder: r.folder,
    intent: r.intent,
    cloneTag: 'KIOSK',
    manifestSha256: createHash('sha256').update(MANIFEST).digest('hex'),
    ok: true,
    writeSeconds: 1,
    seconds: 2,
    targets: r.targets.map((d, i) => ({
      device: d.device,
      ok: true,
      verified: true,
      grown: true,
      hostname: r.hostnames?.[i] ?? null,
      identityChanges: r.intent === 'deploy' ? ['emptied /etc/machine-id'] : [],
      bytesWritten: 8 << 20,
      ejected: true,
    })),
  };
}

const deploy = (folder: string, cards: Drive[], hostnamePattern?: string) => ({
  folder,
  targets: cards.map(snapshotOf),
  intent: 'deploy',
  ...(hostnamePattern !== undefined ? { hostnamePattern } : {}),
  grow: true,
});

test('restore refuses a malformed request before any card is touched', async () => {
  const t = setup();
  try {
    const [w, x] = CARDS as [Drive, Drive];
    const cases: Array<[unknown, string, RegExp]> = [
      [{ ...deploy(t.folder, [w], 'a-{n}'), intent: 'clone' }, 'INVALID_ARGUMENT', /roll back .* or deploy/],
      [{ ...deploy(t.folder, [w], 'a-{n}'), intent: undefined }, 'INVALID_ARGUMENT', /roll back/],
      [deploy(t.folder, [], 'a-{n}'), 'INVALID_ARGUMENT', /at least one card/],
      [
        { ...deploy(t.folder, [w], 'a-{n}'), targets: Array.from({ length: 17 }, () => snapshotOf(w)) },
        'INVALID_ARGUMENT',
        /At most 16 cards .* you chose 17/,
      ],
      [deploy(t.folder, [w, x, w], 'a-{n}'), 'INVALID_ARGUMENT', /\/dev\/sdw is listed twice/],
      [deploy(t.folder, [w, x]), 'INVALID_ARGUMENT', /Type a hostname pattern/],
      [deploy(t.folder, [w, x], 'kiosk_{n}'), 'INVALID_ARGUMENT', /is not a hostname/],
      [deploy(t.folder, [w, x], 'kiosk-{id}'), 'INVALID_ARGUMENT', /knows only \{n\}/],
      [deploy(t.folder, [w, x], 'kiosk'), 'INVALID_ARGUMENT', /Cards 1 and 2 would both be called kiosk/],
      [
        { ...deploy(t.folder, [w], 'a-{n}'), intent: 'exact' },
        'INVALID_ARGUMENT',
        /only for deploying to new devices/,
      ],
      [{ ...deploy(t.folder, [w], 'a-{n}'), folder: 'golden-clone-KIOSK' }, 'INVALID_ARGUMENT', /absolute/],
      [{ ...deploy(t.folder, [w], 'a-{n}'), verify: false }, 'INVALID_ARGUMENT', /unknown field verify/],
      [deploy(t.folder, [w, SYSTEM_DISK], 'a-{n}'), 'SYSTEM_DISK', /\/dev\/vda/],
      [
        { ...deploy(t.folder, [w], 'a-{n}'), targets: [{ ...snapshotOf(w), serial: 'OTHER' }] },
        'DRIVE_CHANGED',
        /not the card you confirmed/,
      ],
      [
        { ...deploy(t.folder, [w], 'a-{n}'), targets: [{ device: '/dev/sdq', size: 1, serial: null }] },
        'DRIVE_REMOVED',
        /no longer connected/,
      ],
    ];
    for (const [request, code, message] of cases) {
      const error = await t.refused('restore:start', request);
      assert.equal(error.code, code, `${JSON.stringify(request)}: ${error.message}`);
      assert.match(error.message, message);
    }
    assert.deepEqual(t.calls.restore, [], 'no job started');
  } finally {
    t.cleanup();
  }
});

test('{serial} names each card from its serial; a card without one is refused with the way out', async () => {
  const bare = card({ device: '/dev/sdv', serial: null });
  const t = setup({}, [...CARDS, bare]);
  try {
    const error = await t.refused('restore:start', deploy(t.folder, [CARDS[0]!, bare], 'kiosk-{serial}'));
    assert.equal(error.code, 'INVALID_ARGUMENT');
    assert.equal(error.message, 'Card 2 reports no serial, so {serial} cannot name it: use {n} instead.');
    await t.run('restore:start', deploy(t.folder, [CARDS[1]!, CARDS[0]!], 'kiosk-{serial}'));
    assert.deepEqual(t.calls.restore[0]!.hostnames, ['kiosk-ser-x1', 'kiosk-ser-w0']);
  } finally {
    t.cleanup();
  }
});

test('a deploy numbers the cards in the order chosen, runs once for all, and records each card', async () => {
  const t = setup({
    restore: async (r) => {
      const ok = await okRestore(r);
      // the third card chosen fails alone; the others verified
      const failed = ok.targets[2]!;
      ok.targets[2] = {
        ...failed,
        ok: false,
        verified: false,
        identityChanges: [],
        error: { code: 'VERIFY_MISMATCH', message: '/dev/sdw differs at byte 4096.' },
      };
      return { ...ok, ok: false };
    },
  });
  try {
    const [w, x, y, z] = CARDS as [Drive, Drive, Drive, Drive];
    const outcome = await t.run('restore:start', deploy(t.folder, [z, x, w, y], 'atlas-{n:03}'));
    assert.equal(t.calls.restore.length, 1, 'one job for the four cards');
    const job = t.calls.restore[0]!;
    assert.deepEqual(
      job.targets.map((d) => d.device),
      ['/dev/sdz', '/dev/sdx', '/dev/sdw', '/dev/sdy'],
    );
    assert.deepEqual(job.hostnames, ['atlas-001', 'atlas-002', 'atlas-003', 'atlas-004']);
    assert.deepEqual(job.confirmed, [z, x, w, y].map(snapshotOf));
    assert.equal(job.intent, 'deploy');
    assert.ok(outcome.ok && outcome.kind === 'restore');
    assert.equal(outcome.value.ok, false);

    const reply = (await t.app.dispatch('deploy:list', {})) as Reply<DeploymentRecord[]>;
    assert.ok(reply.ok);
    const sha = createHash('sha256').update(MANIFEST).digest('hex');
    const records = reply.value;
    assert.equal(records.length, 4, 'one record per card');
    assert.deepEqual(
      records.map((r) => ({ ...r, time: undefined })).reverse(),
      [z, x, w, y].map((d, i) => ({
        time: undefined,
        clone: 'golden-clone-KIOSK',
        cloneTag: 'KIOSK',
        manifestSha256: sha,
        intent: 'deploy',
        card: { device: d.device, model: d.description, serial: d.serial, size: d.size },
        hostname: `atlas-00${i + 1}`,
        verified: i !== 2,
        ok: i !== 2,
        error: i === 2 ? 'VERIFY_MISMATCH' : null,
        reason: i === 2 ? '/dev/sdw differs at byte 4096.' : null,
      })),
    );
    // the record lives in the build folder, one JSON line per card
    const lines = readFileSync(join(t.buildFolder, DEPLOYMENTS_FILE), 'utf8').trim().split('\n');
    assert.equal(lines.length, 4);

    // the job log has the cards too, each with how it ended
    const log = (await t.app.dispatch('log:list', {})) as Reply<JobLogEntry[]>;
    assert.ok(log.ok);
    assert.deepEqual(
      log.value[0]!.cards.map((c) => [c.device, c.ok]),
      [
        ['/dev/sdz', true],
        ['/dev/sdx', true],
        ['/dev/sdw', false],
        ['/dev/sdy', true],
      ],
    );

    // a second batch numbers on from the record: past atlas-004, the highest given to a card that came out whole
    await t.run('restore:start', deploy(t.folder, [x, w], 'atlas-{n:03}'));
    assert.deepEqual(t.calls.restore[1]!.hostnames, ['atlas-005', 'atlas-006']);
    // another pattern has its own numbers
    await t.run('restore:start', deploy(t.folder, [y], 'site2-{n}'));
    assert.deepEqual(t.calls.restore[2]!.hostnames, ['site2-1']);
  } finally {
    t.cleanup();
  }
});

test('a roll-back runs exact with no hostnames; a job that fails records its failed cards, one that stops before any card none; a torn record line is skipped', async () => {
  let fail: AtlasError | null = null;
  const t = setup({
    restore: async (r) => {
      if (fail) throw fail;
      return okRestore(r);
    },
  });
  try {
    const outcome = await t.run('restore:start', {
      folder: t.folder,
      targets: [snapshotOf(CARDS[0]!)],
      intent: 'exact',
      grow: false,
    });
    assert.ok(outcome.ok);
    assert.equal(t.calls.restore[0]!.hostnames, null);
    assert.equal(t.calls.restore[0]!.grow, false);
    // before any card had its turn (a cancel, a refused folder): the job log keeps it, the record does not
    for (const stop of [
      new AtlasError('CANCELLED', 'The operation was cancelled.'),
      new AtlasError('MANIFEST_MISMATCH', 'golden-clone-KIOSK/x is damaged.'),
    ]) {
      fail = stop;
      const stopped = await t.run('restore:start', {
        folder: t.folder,
        targets: [snapshotOf(CARDS[1]!)],
        intent: 'exact',
        grow: true,
      });
      assert.equal(stopped.ok, false);
    }
    assert.equal((await readDeployments(t.buildFolder)).length, 1);
    // one card that failed: the error names it
    fail = new AtlasError('DRIVE_REMOVED', '/dev/sdx went away while writing it.', { device: '/dev/sdx' });
    await t.run('restore:start', {
      folder: t.folder,
      targets: [snapshotOf(CARDS[1]!)],
      intent: 'exact',
      grow: true,
    });
    // every card of a deploy failed: the error carries each card's result
    fail = new AtlasError('IO_ERROR', 'Every card failed.', {
      targets: ['/dev/sdy', '/dev/sdz'].map((device, i) => ({
        device,
        hostname: `atlas-00${i + 1}`,
        ok: false,
        verified: false,
        error: { code: i === 0 ? 'IO_ERROR' : 'VERIFY_MISMATCH', message: 'failed' },
      })),
    });
    await t.run('restore:start', deploy(t.folder, [CARDS[2]!, CARDS[3]!], 'atlas-{n:03}'));
    appendFileSync(join(t.buildFolder, DEPLOYMENTS_FILE), '{"time":"2026-01-01T00:00:00Z","clone":"x"');
    const records = await readDeployments(t.buildFolder);
    assert.deepEqual(
      records.map((x) => [x.intent, x.card.device, x.hostname, x.ok, x.verified, x.error, x.cloneTag]),
      [
        ['deploy', '/dev/sdz', 'atlas-002', false, false, 'VERIFY_MISMATCH', 'KIOSK'],
        ['deploy', '/dev/sdy', 'atlas-001', false, false, 'IO_ERROR', 'KIOSK'],
        ['exact', '/dev/sdx', null, false, false, 'DRIVE_REMOVED', 'KIOSK'],
        ['exact', '/dev/sdw', null, true, true, null, 'KIOSK'],
      ],
    );
  } finally {
    t.cleanup();
  }
});

test('a record that cannot be written leaves the cards done and says so in the result', async () => {
  let record = '';
  const t = setup({
    restore: async (r) => {
      // while the cards are written, the record's place is taken by a folder: appending to it fails
      mkdirSync(record, { recursive: true });
      return okRestore(r);
    },
  });
  record = join(t.buildFolder, DEPLOYMENTS_FILE);
  try {
    const outcome = await t.run('restore:start', deploy(t.folder, [CARDS[0]!, CARDS[1]!], 'atlas-{n:03}'));
    assert.ok(outcome.ok && outcome.kind === 'restore', JSON.stringify(outcome));
    assert.equal(outcome.value.ok, true, 'the cards are done');
    assert.match(
      outcome.value.recordProblem ?? '',
      /^These cards could not be added to the deployment record in .*: .*/,
    );
  } finally {
    t.cleanup();
  }
});

test('two deploys at once never share a name; names shown that moved on since are refused', async () => {
  let release = (): void => undefined;
  const held = new Promise<void>((resolve) => (release = resolve));
  let first = true;
  const t = setup({
    restore: async (r) => {
      // the first deploy is still writing while the second starts
      if (first) {
        first = false;
        await held;
      }
      return okRestore(r);
    },
  });
  try {
    const [w, x, y, z] = CARDS as [Drive, Drive, Drive, Drive];
    const one = t.run('restore:start', deploy(t.folder, [w, x], 'atlas-{n:03}'));
    while (t.calls.restore.length === 0) await new Promise((r) => setTimeout(r, 5));
    const two = await t.run('restore:start', deploy(t.folder, [y], 'atlas-{n:03}'));
    release();
    await one;
    assert.ok(two.ok);
    assert.deepEqual(
      t.calls.restore.map((c) => c.hostnames),
      [['atlas-001', 'atlas-002'], ['atlas-003']],
    );
    // the page showed names from an older record: refused before any card is touched, with the names now
    const stale = await t.refused('restore:start', {
      ...deploy(t.folder, [z], 'atlas-{n:03}'),
      hostnames: ['atlas-001'],
    });
    assert.equal(stale.code, 'CONFLICT');
    assert.match(stale.message, /moved on since they were shown.*the cards would be atlas-004/);
    assert.equal(t.calls.restore.length, 2);
    // the names as shown: it starts
    const ok = await t.run('restore:start', {
      ...deploy(t.folder, [z], 'atlas-{n:03}'),
      hostnames: ['atlas-004'],
    });
    assert.ok(ok.ok);
    assert.equal(
      (await t.refused('restore:start', { ...deploy(t.folder, [z, w], 'atlas-{n:03}'), hostnames: ['x'] }))
        .code,
      'INVALID_ARGUMENT',
      'one name per card',
    );
  } finally {
    release();
    t.cleanup();
  }
});

test('deploy:list is empty before any deploy, and takes no fields', async () => {
  const t = setup();
  try {
    assert.deepEqual(await t.app.dispatch('deploy:list', {}), { ok: true, value: [] });
    assert.equal((await t.refused('deploy:list', { folder: '/tmp' })).code, 'INVALID_ARGUMENT');
  } finally {
    t.cleanup();
  }
});

test('card:check runs the check on the confirmed card, under the target rules, one job per card at a time', async () => {
  let release: () => void = () => {};
  const held = new Promise<void>((resolve) => (release = resolve));
  const t = setup({
    'check-card': async (r): Promise<CheckCardResult> => {
      await held;
      return {
        device: r.target.device,
        claimedBytes: r.target.size ?? 0,
        verdict: 'fake',
        realBytesAtMost: 8e9,
        realBytesAtLeast: 4e9,
        wrapsAt: 8e9,
        probes: 40,
        restored: true,
        seconds: 2,
      };
    },
  });
  try {
    assert.equal((await t.refused('card:check', { target: snapshotOf(SYSTEM_DISK) })).code, 'SYSTEM_DISK');
    assert.equal((await t.refused('card:check', { target: '/dev/sdw' })).code, 'INVALID_ARGUMENT');
    assert.equal(
      (await t.refused('card:check', { target: { ...snapshotOf(CARDS[0]!), size: 1 } })).code,
      'DRIVE_CHANGED',
    );
    const running = t.run('card:check', { target: snapshotOf(CARDS[0]!) });
    while (t.calls['check-card'].length === 0) await new Promise((r) => setTimeout(r, 5));
    // the card is busy: a restore onto it waits for the check to end
    const busy = await t.refused('restore:start', deploy(t.folder, [CARDS[0]!], 'a-{n}'));
    assert.match(busy.message, /already in use/);
    release();
    const outcome = await running;
    assert.ok(outcome.ok && outcome.kind === 'check-card');
    assert.equal(outcome.value.verdict, 'fake');
    assert.equal(t.calls['check-card'][0]!.target.device, '/dev/sdw');
    // checking a card puts its bytes back: it leaves no job-log line
    assert.deepEqual(await t.app.dispatch('log:list', {}), { ok: true, value: [] });
  } finally {
    t.cleanup();
  }
});
