import test from 'node:test';
import { REQUEST_CHANNELS } from '../../../main/contract/channel-list';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import {
  createHandlers,
  joinGroups,
  type HandlerDeps,
  type DeviceJobRunner,
} from '../../../main/app/handlers';
import { ProgressMeter } from '../../../main/engine/progress';
import type { Drive, EventChannel, EventOf, Reply } from '../../../main/contract';
import { scratchDir } from '../../support/sh';
import { card as makeCard, snapshotOf as snap, SYSTEM_DISK } from '../../support/drives';

const card = makeCard();
const system = SYSTEM_DISK;

type Event = { [E in EventChannel]: { event: E; payload: EventOf<E> } }[EventChannel];

function setup(overrides: Partial<HandlerDeps> = {}) {
  const { dir, cleanup } = scratchDir('atlas-handlers-');
  const image = join(dir, 'atlas.img');
  writeFileSync(image, Buffer.alloc(4096, 1));
  const events: Event[] = [];
  let drives: Drive[] = [card, system];
  const app = createHandlers({
    version: '0.0.0-test',
    platform: 'linux',
    configDir: join(dir, 'config'),
    homeDir: join(dir, 'home'),
    listDrives: async () => drives,
    emit: (event, payload) => events.push({ event, payload } as Event),
    ...overrides,
  });
  const call = (channel: string, request: unknown): Promise<Reply<unknown>> => app.dispatch(channel, request);
  const finished = (jobId: string) =>
    new Promise<EventOf<'job:finished'>>((resolve) => {
      const poll = setInterval(() => {
        const hit = events.find((e) => e.event === 'job:finished' && e.payload.jobId === jobId);
        if (hit) {
          clearInterval(poll);
          resolve(hit.payload as EventOf<'job:finished'>);
        }
      }, 5);
    });
  return { app, dir, image, events, call, finished, setDrives: (d: Drive[]) => (drives = d), cleanup };
}

function errorCode(reply: Reply<unknown>): string {
  assert.equal(reply.ok, false, 'expected an error reply');
  return (reply as { error: { code: string } }).error.code;
}

test('settings default to ~/atlas-build and the vault, and persist as JSON in the config folder', async () => {
  const t = setup();
  try {
    const first = await t.call('settings:get', {});
    assert.deepEqual(first, {
      ok: true,
      value: {
        buildFolder: join(t.dir, 'home', 'atlas-build'),
        vaultFolder: '/Volumes/NVME_VAULT/golden-atlas-img/',
        remoteFolders: [],
      },
    });
    const set = await t.call('settings:set', { buildFolder: '/srv/builds' });
    assert.equal(set.ok, true);
    const stored = JSON.parse(readFileSync(join(t.dir, 'config', 'settings.json'), 'utf8'));
    assert.equal(stored.buildFolder, '/srv/builds');
    assert.equal(
      errorCode(await t.call('settings:set', { buildFolder: 'relative/path' })),
      'INVALID_ARGUMENT',
    );
    assert.equal(errorCode(await t.call('settings:set', { colour: 'red' })), 'INVALID_ARGUMENT');
  } finally {
    t.cleanup();
  }
});

test('payloads are validated: unknown channels, unknown fields, wrong types, relative paths', async () => {
  const t = setup();
  try {
    assert.equal(errorCode(await t.call('shell:exec', {})), 'INVALID_ARGUMENT');
    assert.equal(errorCode(await t.call('drives:list', { all: true })), 'INVALID_ARGUMENT');
    assert.equal(errorCode(await t.call('image:inspect', { path: 'atlas.img' })), 'INVALID_ARGUMENT');
    assert.equal(errorCode(await t.call('image:inspect', null)), 'INVALID_ARGUMENT');
    assert.equal(
      errorCode(await t.call('flash:start', { image: t.image, targets: [snap(card)], verify: 'yes' })),
      'INVALID_ARGUMENT',
    );
    assert.equal(
      errorCode(await t.call('flash:start', { image: t.image, targets: [], verify: true })),
      'INVALID_ARGUMENT',
    );
    assert.equal(
      errorCode(
        await t.call('flash:start', { image: t.image, targets: [snap(card), snap(card)], verify: true }),
      ),
      'INVALID_ARGUMENT',
    );
    assert.equal(errorCode(await t.call('image:inspect', { path: join(t.dir, 'notes.txt') })), 'UNSUPPORTED');
    assert.equal(errorCode(await t.call('image:inspect', { path: join(t.dir, 'missing.img') })), 'NOT_FOUND');
    const info = await t.call('image:inspect', { path: t.image });
    assert.deepEqual(info, {
      ok: true,
      value: {
        path: t.image,
        name: 'atlas.img',
        format: 'img',
        fileSize: 4096,
        imageSize: 4096,
        sizeExact: true,
      },
    });
  } finally {
    t.cleanup();
  }
});

test('device jobs need the confirmed drive, unchanged, and a permissible target', async () => {
  const calls: unknown[] = [];
  const runDeviceJob: DeviceJobRunner = async (kind, request) => {
    calls.push({ kind, request });
    throw new Error('not reached in this test');
  };
  const t = setup({ runDeviceJob });
  try {
    const flash = (target: object) =>
      t.call('flash:start', { image: t.image, targets: [target], verify: true });
    assert.equal(errorCode(await flash({ ...snap(card), serial: 'OTHER' })), 'DRIVE_CHANGED');
    assert.equal(errorCode(await flash({ ...snap(card), size: 64e9 })), 'DRIVE_CHANGED');
    assert.equal(errorCode(await flash({ ...snap(card), device: '/dev/sdz' })), 'DRIVE_REMOVED');
    assert.equal(errorCode(await flash(snap(system))), 'SYSTEM_DISK');
    t.setDrives([{ ...card, readOnly: true }]);
    assert.equal(errorCode(await flash(snap(card))), 'READ_ONLY');
    t.setDrives([{ ...card, size: 1024 }]);
    assert.equal(errorCode(await flash({ ...snap(card), size: 1024 })), 'TARGET_TOO_SMALL');
    t.setDrives([{ ...card, mountpoints: [t.dir] }]);
    assert.equal(errorCode(await flash(snap(card))), 'SOURCE_IS_TARGET');
    assert.equal(calls.length, 0, 'no refused request reaches the device runner');
  } finally {
    t.cleanup();
  }
});

test('without a device runner or a file job, the handlers say the feature is not available yet', async () => {
  const t = setup();
  try {
    const reply = await t.call('flash:start', { image: t.image, targets: [snap(card)], verify: true });
    assert.equal(errorCode(reply), 'UNSUPPORTED');
    assert.match((reply as { error: { message: string } }).error.message, /not available yet/);
    assert.equal(errorCode(await t.call('verify:start', { path: t.image })), 'UNSUPPORTED');
  } finally {
    t.cleanup();
  }
});

test('used blocks only: passed to the device job for a raw image, refused for an archive', async () => {
  let seen: boolean | null = null;
  const runDeviceJob: DeviceJobRunner = async (_kind, request) => {
    seen = (request as { usedBlocksOnly: boolean }).usedBlocksOnly;
    return { image: '', bytesWritten: 0, verified: true, targets: [] } as never;
  };
  const t = setup({ runDeviceJob });
  try {
    const reply = await t.call('flash:start', {
      image: t.image,
      targets: [snap(card)],
      verify: true,
      usedBlocksOnly: true,
    });
    assert.equal(reply.ok, true);
    await t.finished((reply as { value: { jobId: string } }).value.jobId);
    assert.equal(seen, true);
    const archive = join(t.dir, 'atlas.img.gz');
    writeFileSync(archive, gzipSync(Buffer.alloc(4096, 1)));
    const refused = await t.call('flash:start', {
      image: archive,
      targets: [snap(card)],
      verify: true,
      usedBlocksOnly: true,
    });
    assert.equal(errorCode(refused), 'INVALID_ARGUMENT');
    assert.match((refused as { error: { message: string } }).error.message, /raw \.img/);
  } finally {
    t.cleanup();
  }
});

test('a job gets an id, streams progress, and ends with exactly one result', async () => {
  const runDeviceJob: DeviceJobRunner = async (kind, request, control) => {
    assert.equal(kind, 'flash');
    const r = request as { targets: Drive[]; verify: boolean };
    assert.equal(r.targets[0]!.device, card.device);
    assert.equal(r.verify, false);
    const meter = new ProgressMeter('writing', 100, control.onProgress, { intervalMs: 0 });
    meter.add(50);
    meter.finish();
    return {
      image: t.image,
      bytesWritten: 100,
      verified: false,
      targets: [{ device: card.device, ok: true, verified: false }],
    } as never;
  };
  const t = setup({ runDeviceJob });
  try {
    const reply = await t.call('flash:start', { image: t.image, targets: [snap(card)], verify: false });
    assert.equal(reply.ok, true);
    const { jobId } = (reply as { value: { jobId: string } }).value;
    const done = await t.finished(jobId);
    assert.equal(done.outcome.ok, true);
    const progress = t.events.filter((e) => e.event === 'job:progress');
    assert.ok(progress.length >= 2);
    assert.equal(progress.at(-1)!.payload.jobId, jobId);
    assert.deepEqual(
      progress.map((e) => (e.payload as EventOf<'job:progress'>).progress.bytesDone),
      [0, 50, 100],
    );
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(t.events.filter((e) => e.event === 'job:finished').length, 1);
    assert.equal(t.app.jobs.list().length, 0);
  } finally {
    t.cleanup();
  }
});

test('cancel aborts the job signal and the result says CANCELLED; the device is busy meanwhile', async () => {
  let sawAbort = false;
  const runDeviceJob: DeviceJobRunner = (_kind, _request, control) =>
    new Promise((_resolve, reject) => {
      control.signal!.addEventListener('abort', () => {
        sawAbort = true;
        // a job that ignores the reason and reports a plain error still comes out as CANCELLED
        setTimeout(() => reject(new Error('stream destroyed')), 10);
      });
    });
  const t = setup({ runDeviceJob });
  try {
    const started = await t.call('flash:start', { image: t.image, targets: [snap(card)], verify: true });
    const { jobId } = (started as { value: { jobId: string } }).value;
    const again = await t.call('flash:start', { image: t.image, targets: [snap(card)], verify: true });
    assert.equal(errorCode(again), 'INVALID_ARGUMENT');
    assert.match((again as { error: { message: string } }).error.message, /already in use/);
    assert.deepEqual(await t.call('job:cancel', { jobId }), { ok: true, value: { cancelled: true } });
    const done = await t.finished(jobId);
    assert.ok(sawAbort);
    assert.deepEqual(done.outcome, {
      ok: false,
      kind: 'flash',
      error: { code: 'CANCELLED', message: 'The operation was cancelled.' },
    });
    assert.deepEqual(await t.call('job:cancel', { jobId }), { ok: true, value: { cancelled: false } });
  } finally {
    t.cleanup();
  }
});

test('insert validates its inputs and runs the file job in process; failures arrive as the job result', async () => {
  const t = setup({
    fileJobs: {
      insert: async (request) => {
        assert.equal(request.outDir, join(t.dir, 'home', 'atlas-build'));
        throw Object.assign(new Error('x'), { code: 'ENOENT', path: request.base });
      },
    },
  });
  try {
    for (const name of ['base.img', 'atlas_firstboot.sh', 'atlas-firstboot.service', 'atlas_secrets.conf']) {
      writeFileSync(join(t.dir, name), 'x');
    }
    const request = {
      base: join(t.dir, 'base.img'),
      firstboot: join(t.dir, 'atlas_firstboot.sh'),
      service: join(t.dir, 'atlas-firstboot.service'),
      secrets: join(t.dir, 'atlas_secrets.conf'),
      version: 8,
      patch: 1,
      tag: 'FLASH',
    };
    assert.equal(
      errorCode(await t.call('insert:start', { ...request, tag: 'bad tag/..' })),
      'INVALID_ARGUMENT',
    );
    assert.equal(errorCode(await t.call('insert:start', { ...request, version: -1 })), 'INVALID_ARGUMENT');
    assert.equal(
      errorCode(await t.call('insert:start', { ...request, secrets: join(t.dir, 'nope') })),
      'NOT_FOUND',
    );
    const ok = await t.call('insert:start', request);
    assert.equal(ok.ok, true);
    const done = await t.finished((ok as { value: { jobId: string } }).value.jobId);
    assert.equal(done.outcome.ok, false);
    assert.equal((done.outcome as { error: { code: string } }).error.code, 'NOT_FOUND');
  } finally {
    t.cleanup();
  }
});

test('the library lists golden images and clone folders from the build folder and the vault', async () => {
  const t = setup();
  try {
    const build = join(t.dir, 'build');
    const vault = join(t.dir, 'vault');
    mkdirSync(join(build, 'golden-clone-v8-0-6-FLASH'), { recursive: true });
    writeFileSync(join(build, 'golden-clone-v8-0-6-FLASH', 'sdc1-boot.partclone.gz'), Buffer.alloc(100));
    writeFileSync(
      join(build, 'golden-clone-v8-0-6-FLASH', 'atlas-manifest.json'),
      JSON.stringify({ tag: 'v8-0-6-FLASH', created: '2026-01-02T03:04:05.000Z' }),
    );
    mkdirSync(join(build, 'golden-clone-half.partial'));
    writeFileSync(join(build, 'notes.txt'), 'x');
    mkdirSync(vault);
    writeFileSync(join(vault, 'ods-atlas-golden-v8-1-FIELD.img'), Buffer.alloc(512));
    await t.call('settings:set', { buildFolder: build, vaultFolder: vault });
    const reply = await t.call('library:list', {});
    assert.equal(reply.ok, true);
    const { entries, unavailable } = (
      reply as { value: { entries: Array<Record<string, unknown>>; unavailable: unknown[] } }
    ).value;
    assert.deepEqual(unavailable, []);
    assert.deepEqual(entries.map((e) => [e.kind, e.phase, e.location, e.tag, e.hasManifest]).sort(), [
      ['clone-folder', 1, 'build', 'v8-0-6-FLASH', true],
      ['golden-image', 0, 'vault', 'FIELD', false],
    ]);
    const clone = entries.find((e) => e.kind === 'clone-folder')!;
    assert.equal(clone.created, '2026-01-02T03:04:05.000Z');
    assert.ok((clone.size as number) > 100);
    await t.call('settings:set', { vaultFolder: join(t.dir, 'unplugged') });
    const missing = (await t.call('library:list', {})) as {
      value: { unavailable: Array<{ location: string }> };
    };
    assert.deepEqual(
      missing.value.unavailable.map((u) => u.location),
      ['vault'],
    );
  } finally {
    t.cleanup();
  }
});

test('show in folder opens the file manager on a Library artifact only', async () => {
  const shown: string[] = [];
  const t = setup({ showItemInFolder: (path) => shown.push(path) });
  try {
    const build = join(t.dir, 'build');
    mkdirSync(build);
    const image = join(build, 'ods-atlas-golden-v8-1-FIELD.img');
    writeFileSync(image, Buffer.alloc(512));
    await t.call('settings:set', { buildFolder: build, vaultFolder: join(t.dir, 'vault') });
    assert.deepEqual(await t.call('shell:show-item', { path: image }), { ok: true, value: {} });
    // a file beside it that the Library does not list, and a path outside the Library, are refused
    writeFileSync(join(build, 'notes.txt'), 'x');
    assert.equal(errorCode(await t.call('shell:show-item', { path: join(build, 'notes.txt') })), 'NOT_FOUND');
    assert.equal(errorCode(await t.call('shell:show-item', { path: '/etc/passwd' })), 'NOT_FOUND');
    assert.equal(errorCode(await t.call('shell:show-item', { path: 'relative.img' })), 'INVALID_ARGUMENT');
    assert.deepEqual(shown, [image]);
  } finally {
    t.cleanup();
  }
  const none = setup();
  try {
    assert.equal(errorCode(await none.call('shell:show-item', { path: none.image })), 'UNSUPPORTED');
  } finally {
    none.cleanup();
  }
});

test('insert:check checks what is picked so far, every problem at once, and writes nothing', async () => {
  const t = setup();
  try {
    const script = join(t.dir, 'atlas_firstboot.sh');
    writeFileSync(script, 'no shebang\n');
    const build = join(t.dir, 'home', 'atlas-build');
    mkdirSync(build, { recursive: true });
    writeFileSync(join(build, 'ods-atlas-golden-v8-1-FIELD.img'), 'x');
    assert.deepEqual(
      await t.call('insert:check', {}),
      { ok: true, value: [] },
      'nothing picked, nothing wrong',
    );
    const reply = (await t.call('insert:check', {
      base: t.image,
      firstboot: script,
      version: 8,
      patch: 1,
      tag: 'FIELD',
    })) as Reply<Array<{ field: string; code: string | null; severity: string }>>;
    assert.ok(reply.ok);
    assert.deepEqual(
      reply.value.map((p) => [p.field, p.code, p.severity]),
      [
        ['base', 'NOT_ARMBIAN_BASE', 'error'],
        ['firstboot', 'INVALID_ARGUMENT', 'error'],
        ['output', 'ALREADY_EXISTS', 'error'],
      ],
    );
    // replacing: the clash is no problem
    const replacing = (await t.call('insert:check', {
      version: 8,
      patch: 1,
      tag: 'FIELD',
      force: true,
    })) as Reply<unknown[]>;
    assert.deepEqual(replacing, { ok: true, value: [] });
    assert.equal(errorCode(await t.call('insert:check', { base: 'relative.img' })), 'INVALID_ARGUMENT');
    assert.equal(errorCode(await t.call('insert:check', { colour: 'red' })), 'INVALID_ARGUMENT');
  } finally {
    t.cleanup();
  }
});

test('drive changes from the watcher become drives:changed events until disposed', async () => {
  let push: ((d: Drive[]) => void) | null = null;
  let stopped = false;
  const t = setup({
    watchDrives: (onChange) => {
      push = onChange;
      return () => (stopped = true);
    },
  });
  try {
    push!([card]);
    assert.deepEqual(t.events.at(-1), { event: 'drives:changed', payload: { drives: [card] } });
    await t.app.dispose();
    assert.ok(stopped);
  } finally {
    t.cleanup();
  }
});

test('choosing a base starts its hash for the build folder; another base stops the first; none without a hasher', async () => {
  const started: Array<{ base: string; buildFolder: string; signal: AbortSignal }> = [];
  const t = setup({
    prehashBase: (base, buildFolder, signal) => {
      started.push({ base, buildFolder, signal });
      return new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
    },
  });
  try {
    const one = join(t.dir, 'one.img');
    const two = join(t.dir, 'two.img');
    writeFileSync(one, 'x');
    writeFileSync(two, 'y');
    assert.equal(
      errorCode(await t.call('insert:prepare-base', { base: 'relative.img' })),
      'INVALID_ARGUMENT',
    );
    assert.equal(
      errorCode(await t.call('insert:prepare-base', { base: join(t.dir, 'nope.img') })),
      'NOT_FOUND',
    );
    assert.equal(errorCode(await t.call('insert:prepare-base', { base: one, extra: 1 })), 'INVALID_ARGUMENT');
    assert.deepEqual(await t.call('insert:prepare-base', { base: one }), {
      ok: true,
      value: { hashing: true },
    });
    // the same base again: the hash already running goes on
    await t.call('insert:prepare-base', { base: one });
    assert.equal(started.length, 1);
    assert.equal(started[0]!.buildFolder, join(t.dir, 'home', 'atlas-build'));
    await t.call('insert:prepare-base', { base: two });
    assert.equal(started.length, 2);
    assert.equal(started[0]!.signal.aborted, true, 'the first base is no longer hashed');
    assert.equal(started[1]!.signal.aborted, false);
    await t.app.dispose();
    assert.equal(started[1]!.signal.aborted, true, 'closing the app stops the hash');
  } finally {
    t.cleanup();
  }
  const bare = setup();
  try {
    writeFileSync(join(bare.dir, 'b.img'), 'x');
    assert.deepEqual(await bare.call('insert:prepare-base', { base: join(bare.dir, 'b.img') }), {
      ok: true,
      value: { hashing: false },
    });
  } finally {
    bare.cleanup();
  }
});

test('the handler map answers every channel once: a channel two groups both serve is refused', async () => {
  const { app, cleanup } = setup();
  try {
    // the contract's list (a Record over its channel type): the map served has exactly them
    assert.deepEqual(Object.keys(app.handlers).sort(), Object.keys(REQUEST_CHANNELS).sort());
    assert.ok(Object.values(app.handlers).every((h) => typeof h === 'function'));
  } finally {
    await app.dispose();
    cleanup();
  }
  const answer = async (): Promise<object> => ({});
  assert.deepEqual(Object.keys(joinGroups({ 'app:info': answer }, { 'log:list': answer })), [
    'app:info',
    'log:list',
  ]);
  assert.throws(
    () => joinGroups({ 'app:info': answer }, { 'app:info': answer }),
    /Two handler groups serve "app:info"/,
  );
});
