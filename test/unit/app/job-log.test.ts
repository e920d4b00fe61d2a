/**
 * The operator's job log: every device job the app runs leaves one line (what, from what, onto which cards, how
 * it ended) that the app lists and `atlas log` prints; a broken line never hides the others.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, chownSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { createHandlers, deviceJobRunner, type DeviceJobRunners } from '../../../main/app/handlers';
import { AtlasError } from '../../../main/engine/errors';
import { appendJobLog, JOB_LOG_FILE, readJobLog } from '../../../main/engine/library/job-log';
import type { EventOf, JobLogEntry, Reply } from '../../../main/contract';
import { card, snapshotOf } from '../../support/drives';
import { isRoot, scratchDir } from '../../support/sh';

const CLI = join(__dirname, '..', '..', '..', 'main', 'cli', 'run.js');
const SHA = 'ab'.repeat(32);

function setup(runners: DeviceJobRunners) {
  const { dir, cleanup } = scratchDir('atlas-job-log-');
  const configDir = join(dir, 'config');
  const finished: Array<EventOf<'job:finished'>> = [];
  const sd = card({ description: 'SanDisk Ultra', serial: 'SN-1' });
  const app = createHandlers({
    version: '0',
    platform: 'linux',
    configDir,
    homeDir: dir,
    listDrives: async () => [sd],
    emit: (event, payload) => {
      if (event === 'job:finished') finished.push(payload as EventOf<'job:finished'>);
    },
    runDeviceJob: deviceJobRunner(runners),
  });
  const start = async (channel: 'flash:start' | 'restore:start', request: object): Promise<void> => {
    const reply = (await app.dispatch(channel, request)) as Reply<{ jobId: string }>;
    assert.ok(reply.ok, JSON.stringify(reply));
    while (!finished.some((f) => f.jobId === reply.value.jobId)) await new Promise((r) => setTimeout(r, 5));
  };
  const log = async (): Promise<JobLogEntry[]> => {
    const reply = (await app.dispatch('log:list', {})) as Reply<JobLogEntry[]>;
    assert.ok(reply.ok);
    return reply.value;
  };
  return { dir, configDir, sd, start, log, app, finished, cleanup };
}

const unused = async (): Promise<never> => {
  throw new Error('not used in this test');
};

test('a flash, a failed restore and a cancelled flash each leave one line, newest first', async () => {
  let flashes = 0;
  const t = setup({
    flash: async (r, control) => {
      if (++flashes === 2) {
        await new Promise((resolve) => control.signal?.addEventListener('abort', resolve));
        throw new AtlasError('CANCELLED', 'cancelled');
      }
      return {
        image: r.image.path,
        bytesWritten: 4096,
        verified: true,
        targets: [{ device: r.targets[0]!.device, ok: true, verified: true, ejected: true }],
        writeSeconds: 1,
        seconds: 2,
        sha256: null,
      };
    },
    clone: unused,
    'check-card': unused,
    restore: async () => {
      throw new AtlasError('DRIVE_REMOVED', 'The card went away.');
    },
  });
  try {
    const image = join(t.dir, 'ods-atlas-golden-v8-1-FIELD.img');
    writeFileSync(image, Buffer.alloc(4096, 1));
    writeFileSync(
      join(t.dir, 'ods-atlas-golden-v8-1-FIELD.sha256'),
      `${SHA}  ods-atlas-golden-v8-1-FIELD.img\n`,
    );
    const folder = join(t.dir, 'golden-clone-FIELD');
    mkdirSync(folder);
    const manifestText = '{"format":"atlas-clone","phase":1,"files":[]}';
    writeFileSync(join(folder, 'atlas-manifest.json'), manifestText);
    // the restore request is checked against the clone's layout before the job starts
    writeFileSync(
      join(folder, 'partition-table.dump'),
      'label: dos\nunit: sectors\n\n/dev/sdc1 : start=8192, size=131072, type=c\n',
    );
    const manifestSha = createHash('sha256').update(manifestText).digest('hex');

    await t.start('flash:start', { image, targets: [snapshotOf(t.sd)], verify: true });
    await t.start('restore:start', {
      folder,
      targets: [snapshotOf(t.sd)],
      intent: 'exact',
      grow: false,
    });
    const cancelling = t.start('flash:start', { image, targets: [snapshotOf(t.sd)], verify: true });
    while (t.app.jobs.list().length === 0) await new Promise((r) => setTimeout(r, 5));
    t.app.jobs.cancel(t.app.jobs.list()[0]!.id);
    await cancelling;

    const [cancelled, restore, flash] = await t.log();
    const sdCard = { device: t.sd.device, model: 'SanDisk Ultra', serial: 'SN-1', size: t.sd.size };
    assert.deepEqual(
      { ...flash, time: undefined },
      {
        time: undefined,
        job: 'flash',
        source: image,
        sha256: SHA,
        cards: [{ ...sdCard, ok: true }],
        result: 'succeeded',
        error: null,
      },
    );
    assert.ok(Math.abs(Date.parse(flash!.time) - Date.now()) < 60_000, 'stamped with the time it ended');
    assert.deepEqual(
      { ...restore, time: undefined },
      {
        time: undefined,
        job: 'restore',
        source: folder,
        sha256: manifestSha,
        cards: [{ ...sdCard, ok: null }],
        result: 'failed',
        error: 'DRIVE_REMOVED',
      },
    );
    assert.equal(cancelled!.result, 'cancelled');
    assert.equal(cancelled!.error, 'CANCELLED');
    assert.deepEqual(cancelled!.cards, [{ ...sdCard, ok: null }]);
    // the result the app shows carries the same checksum as the log
    const outcome = t.finished.find((f) => f.outcome.ok && f.outcome.kind === 'flash')!.outcome;
    assert.ok(outcome.ok && outcome.kind === 'flash');
    assert.equal(outcome.value.sha256, SHA);
    const lines = readFileSync(join(t.configDir, JOB_LOG_FILE), 'utf8').trim().split('\n');
    assert.equal(lines.length, 3, 'one line per job');
  } finally {
    await t.app.dispose();
    t.cleanup();
  }
});

test('reading skips a line that does not parse and keeps the newest entries', async () => {
  const { dir, cleanup } = scratchDir('atlas-job-log-read-');
  try {
    const entry = (n: number): JobLogEntry => ({
      time: new Date(Date.UTC(2026, 0, n)).toISOString(),
      job: 'clone',
      source: '/dev/sdx',
      sha256: null,
      cards: [],
      result: 'succeeded',
      error: null,
    });
    assert.deepEqual(await readJobLog(dir), [], 'no log yet is an empty log');
    const file = join(dir, JOB_LOG_FILE);
    appendFileSync(file, `${JSON.stringify(entry(1))}\n{"time": trunc\n${JSON.stringify(entry(2))}\n`);
    appendFileSync(file, `${JSON.stringify(entry(3))}\n`);
    assert.deepEqual(
      (await readJobLog(dir, 2)).map((e) => e.time),
      [entry(3).time, entry(2).time],
    );
    assert.equal((await readJobLog(dir)).length, 3);
    const cli = spawnSync(process.execPath, [CLI, 'log', '--json', '--last', '2'], {
      env: { ...process.env, ATLAS_CONFIG_DIR: dir },
      encoding: 'utf8',
    });
    assert.equal(cli.status, 0, cli.stderr);
    assert.deepEqual(
      (JSON.parse(cli.stdout) as { entries: JobLogEntry[] }).entries.map((e) => e.time),
      [entry(3).time, entry(2).time],
    );
  } finally {
    cleanup();
  }
});

test(
  "the log is the person's: 0600, and what root creates (the CLI under sudo) takes the owner of the folder it is in",
  {
    skip: isRoot ? false : 'needs root to hand a file to another owner',
  },
  async () => {
    const { dir, cleanup } = scratchDir('atlas-job-log-owner-');
    try {
      const home = join(dir, 'home');
      mkdirSync(home);
      chownSync(home, 4321, 4322);
      const configDir = join(home, '.config', 'Atlas Imager');
      const entry: JobLogEntry = {
        time: new Date().toISOString(),
        job: 'flash',
        source: '/x.img',
        sha256: null,
        cards: [],
        result: 'succeeded',
        error: null,
      };
      await appendJobLog(configDir, entry);
      for (const path of [join(home, '.config'), configDir, join(configDir, JOB_LOG_FILE)]) {
        const st = statSync(path);
        assert.deepEqual([st.uid, st.gid], [4321, 4322], path);
      }
      assert.equal(statSync(join(configDir, JOB_LOG_FILE)).mode & 0o777, 0o600);
      // a file that was there keeps its owner
      chownSync(join(configDir, JOB_LOG_FILE), 4400, 4400);
      await appendJobLog(configDir, entry);
      assert.equal(statSync(join(configDir, JOB_LOG_FILE)).uid, 4400);
      assert.equal((await readJobLog(configDir)).length, 2);
    } finally {
      cleanup();
    }
  },
);

test("the app's insert and vault sync leave a line; a dry run, a verify and a vault verify do not", async () => {
  const { dir, cleanup } = scratchDir('atlas-job-log-files-');
  const finished: Array<EventOf<'job:finished'>> = [];
  const build = join(dir, 'build');
  const vault = join(dir, 'vault');
  mkdirSync(build);
  mkdirSync(vault);
  const golden = join(build, 'ods-atlas-golden-v8-1-FIELD.img');
  const manifestText = '{"kind":"ods-atlas-golden","phase":0}';
  const app = createHandlers({
    version: '0',
    platform: 'linux',
    configDir: join(dir, 'config'),
    homeDir: dir,
    listDrives: async () => [],
    emit: (event, payload) => {
      if (event === 'job:finished') finished.push(payload as EventOf<'job:finished'>);
    },
    fileJobs: {
      insert: async (r) => {
        writeFileSync(golden, 'golden');
        writeFileSync(join(build, 'ods-atlas-golden-v8-1-FIELD.manifest.json'), manifestText);
        return {
          output: golden,
          manifestPath: join(build, 'ods-atlas-golden-v8-1-FIELD.manifest.json'),
          baseImage: r.base,
          baseSha256: SHA,
          version: 8,
          patch: 1,
          tag: 'FIELD',
          files: [],
        };
      },
      'vault-sync': async (r) => {
        if (!r.dryRun) throw new AtlasError('VAULT_FULL', 'The vault is full. Nothing was copied.');
        return {
          from: r.from,
          to: r.to,
          dryRun: true,
          items: [],
          copied: 0,
          identical: 0,
          bytes: 0,
          freeBytes: 1,
        };
      },
      verify: async () => ({ ok: true }) as never,
      'vault-verify': async () => ({ ok: true }) as never,
    },
  });
  const start = async (channel: string, request: object): Promise<void> => {
    const reply = (await app.dispatch(channel, request)) as Reply<{ jobId: string }>;
    assert.ok(reply.ok, JSON.stringify(reply));
    while (!finished.some((f) => f.jobId === reply.value.jobId)) await new Promise((r) => setTimeout(r, 5));
  };
  try {
    const input = (name: string): string => {
      writeFileSync(join(dir, name), name);
      return join(dir, name);
    };
    const base = input('Armbian.img');
    await start('insert:start', {
      base,
      firstboot: input('atlas_firstboot.sh'),
      service: input('atlas-firstboot.service'),
      secrets: input('atlas_secrets.conf'),
      version: 8,
      patch: 1,
      tag: 'FIELD',
      outDir: build,
    });
    await start('vault:sync', { from: build, to: vault, dryRun: true });
    await start('vault:sync', { from: build, to: vault });
    await start('verify:start', { path: golden });
    await start('vault:verify', { folder: vault });
    const reply = (await app.dispatch('log:list', {})) as Reply<JobLogEntry[]>;
    assert.ok(reply.ok);
    assert.deepEqual(
      reply.value.map((e) => ({ ...e, time: undefined })),
      [
        {
          time: undefined,
          job: 'vault-sync',
          source: build,
          sha256: null,
          cards: [],
          result: 'failed',
          error: 'VAULT_FULL',
        },
        {
          time: undefined,
          job: 'insert',
          source: base,
          sha256: createHash('sha256').update(manifestText).digest('hex'),
          cards: [],
          output: golden,
          result: 'succeeded',
          error: null,
        },
      ],
    );
  } finally {
    await app.dispose();
    cleanup();
  }
});
