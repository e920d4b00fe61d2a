import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHandlers } from '../../../main/app/handlers';
import { inProcessFileJobs } from '../../../main/app/production';
import type { EventOf, JobOutcome, Reply } from '../../../main/contract';
import { scratchDir } from '../../support/sh';

function setup(withJobs = true) {
  const { dir, cleanup } = scratchDir('atlas-vault-handlers-');
  const build = join(dir, 'build');
  const vault = join(dir, 'vault');
  mkdirSync(build);
  mkdirSync(vault);
  const finished: Array<EventOf<'job:finished'>> = [];
  const app = createHandlers({
    version: '0.0.0-test',
    platform: 'linux',
    configDir: join(dir, 'config'),
    homeDir: join(dir, 'home'),
    listDrives: async () => [],
    emit: (event, payload) => {
      if (event === 'job:finished') finished.push(payload as EventOf<'job:finished'>);
    },
    ...(withJobs ? { fileJobs: inProcessFileJobs } : {}),
  });
  const call = (channel: string, request: unknown): Promise<Reply<unknown>> => app.dispatch(channel, request);
  const run = async (channel: string, request: unknown): Promise<JobOutcome> => {
    const reply = await call(channel, request);
    assert.equal(reply.ok, true, JSON.stringify(reply));
    const { jobId } = (reply as { value: { jobId: string } }).value;
    for (;;) {
      const hit = finished.find((f) => f.jobId === jobId);
      if (hit) return hit.outcome;
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  return { app, dir, build, vault, call, run, cleanup };
}

/** A small clone folder (no manifest) in the build folder, as the shell commands make them. */
function makeClone(build: string, tag: string): string {
  const clone = join(build, `golden-clone-${tag}`);
  mkdirSync(clone);
  writeFileSync(join(clone, 'partition-table.dump'), 'label: dos\n');
  writeFileSync(join(clone, 'mmcblk0p1-boot.partclone.gz'), Buffer.alloc(1000, 7));
  return clone;
}

function errorOf(reply: Reply<unknown>): { code: string; message: string } {
  assert.equal(reply.ok, false, 'expected an error reply');
  return (reply as { error: { code: string; message: string } }).error;
}

test('vault:sync and vault:verify validate their payloads', async () => {
  const t = setup();
  try {
    const bad: Array<[string, unknown]> = [
      ['vault:sync', { from: 'relative/build', to: t.vault }],
      ['vault:sync', { from: t.build, to: 42 }],
      ['vault:sync', { from: t.build, to: t.vault, dryRun: 'yes' }],
      ['vault:sync', { from: t.build, to: t.vault, checksum: 1 }],
      ['vault:sync', { from: t.build, to: t.vault, items: [] }],
      ['vault:sync', { from: t.build, to: t.vault, items: ['../escape'] }],
      ['vault:sync', { from: t.build, to: t.vault, items: 'golden-clone-X' }],
      ['vault:sync', { from: t.build, to: t.vault, extra: 1 }],
      ['vault:sync', { from: t.build, to: t.build }],
      ['vault:verify', { folder: 'vault' }],
      ['vault:verify', { folder: t.vault, dryRun: true }],
      ['vault:verify', 'x'],
    ];
    for (const [channel, request] of bad) {
      assert.equal(errorOf(await t.call(channel, request)).code, 'INVALID_ARGUMENT', JSON.stringify(request));
    }
  } finally {
    await t.app.dispose();
    t.cleanup();
  }
});

test('without the vault jobs the handlers say so', async () => {
  const t = setup(false);
  try {
    assert.equal(errorOf(await t.call('vault:sync', { from: t.build, to: t.vault })).code, 'UNSUPPORTED');
    assert.equal(errorOf(await t.call('vault:verify', {})).code, 'UNSUPPORTED');
  } finally {
    await t.app.dispose();
    t.cleanup();
  }
});

test('preview, sync and verify run in process; CONFLICT and VAULT_UNAVAILABLE arrive as sentences', async () => {
  const t = setup();
  try {
    const clone = makeClone(t.build, 'VAULTTEST');

    const preview = await t.run('vault:sync', { from: t.build, to: t.vault, dryRun: true });
    assert.equal(preview.ok, true, JSON.stringify(preview));
    const plan = (preview as { value: { dryRun: boolean; items: Array<{ name: string; action: string }> } })
      .value;
    assert.equal(plan.dryRun, true);
    assert.deepEqual(
      plan.items.map((i) => [i.name, i.action]),
      [['golden-clone-VAULTTEST', 'would-copy']],
    );

    const synced = await t.run('vault:sync', { from: t.build, to: t.vault });
    assert.equal(synced.ok, true, JSON.stringify(synced));
    assert.equal((synced as { value: { copied: number } }).value.copied, 1);

    const verified = await t.run('vault:verify', { folder: t.vault });
    assert.equal(verified.ok, true, JSON.stringify(verified));
    const v = (verified as { value: { ok: boolean; artifacts: Array<{ name: string; status: string }> } })
      .value;
    assert.equal(v.ok, true);
    assert.deepEqual(
      v.artifacts.map((a) => [a.name, a.status]),
      [['golden-clone-VAULTTEST', 'ok']],
    );

    // the same name with other content in the build folder: nothing is overwritten
    writeFileSync(join(clone, 'mmcblk0p1-boot.partclone.gz'), Buffer.alloc(1500, 8));
    const conflict = await t.run('vault:sync', { from: t.build, to: t.vault });
    assert.equal(conflict.ok, false);
    const ce = (conflict as { error: { code: string; message: string } }).error;
    assert.equal(ce.code, 'CONFLICT');
    assert.match(ce.message, /golden-clone-VAULTTEST/);

    const missing = await t.run('vault:verify', { folder: join(t.dir, 'unplugged') });
    assert.equal(missing.ok, false);
    const me = (missing as { error: { code: string; message: string } }).error;
    assert.equal(me.code, 'VAULT_UNAVAILABLE');
    assert.match(me.message, /unplugged/);
  } finally {
    await t.app.dispose();
    t.cleanup();
  }
});

test('checksum: the vault copy is compared by sha256 even when its sizes and times match', async () => {
  const t = setup();
  try {
    makeClone(t.build, 'CHECKSUM');
    const synced = await t.run('vault:sync', { from: t.build, to: t.vault, checksum: true });
    assert.equal(synced.ok, true, JSON.stringify(synced));
    assert.equal((synced as { value: { copied: number } }).value.copied, 1);

    // the vault's copy changes but keeps its size and modification time
    const copy = join(t.vault, 'golden-clone-CHECKSUM', 'mmcblk0p1-boot.partclone.gz');
    const { atime, mtime } = statSync(copy);
    writeFileSync(copy, Buffer.alloc(1000, 9));
    utimesSync(copy, atime, mtime);

    // by default same sizes and times count as identical
    const byTimes = await t.run('vault:sync', { from: t.build, to: t.vault, dryRun: true });
    assert.equal(byTimes.ok, true, JSON.stringify(byTimes));
    const items = (byTimes as { value: { items: Array<{ name: string; action: string }> } }).value.items;
    assert.deepEqual(
      items.map((i) => [i.name, i.action]),
      [['golden-clone-CHECKSUM', 'identical']],
    );

    // with checksum the preview reads both sides and finds the difference
    const bySha = await t.run('vault:sync', { from: t.build, to: t.vault, dryRun: true, checksum: true });
    assert.equal(bySha.ok, false, JSON.stringify(bySha));
    const e = (bySha as { error: { code: string; message: string } }).error;
    assert.equal(e.code, 'CONFLICT');
    assert.match(e.message, /golden-clone-CHECKSUM.*mmcblk0p1-boot\.partclone\.gz has other content/);
  } finally {
    await t.app.dispose();
    t.cleanup();
  }
});
