/**
 * The Phase rule's override travels from the app's request to the clone job: the handler takes only a boolean
 * (absent: false), the helper's option check does the same, so nothing but an explicit `true` overrides it.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { createHandlers, type DeviceJobRunner } from '../../../main/app/handlers';
import { checkCloneOptions } from '../../../main/helper/jobs';
import { card as makeCard, snapshotOf } from '../../support/drives';
import { scratchDir } from '../../support/sh';

test('clone:start passes allowUnbooted to the device job: false unless asked, refused unless a boolean', async () => {
  const { dir, cleanup } = scratchDir('atlas-override-');
  const card = makeCard();
  const seen: unknown[] = [];
  const finished = new Set<string>();
  const runDeviceJob: DeviceJobRunner = async (_kind, request) => {
    seen.push((request as { allowUnbooted: unknown }).allowUnbooted);
    throw new Error('the job itself is not run here');
  };
  const app = createHandlers({
    version: '0.0.0-test',
    platform: 'linux',
    configDir: join(dir, 'config'),
    homeDir: join(dir, 'home'),
    listDrives: async () => [card],
    emit: (event, payload) => {
      if (event === 'job:finished') finished.add((payload as { jobId: string }).jobId);
    },
    runDeviceJob,
  });
  try {
    const start = (extra: object, tag: string) =>
      app.dispatch('clone:start', { source: snapshotOf(card), tag, outDir: dir, ...extra });
    // one device job per card at a time: each runs to its end before the next starts
    const run = async (extra: object, tag: string): Promise<void> => {
      const reply = await start(extra, tag);
      assert.equal(reply.ok, true);
      const { jobId } = (reply as { value: { jobId: string } }).value;
      while (!finished.has(jobId)) await new Promise((resolve) => setImmediate(resolve));
    };
    await run({}, 'A');
    await run({ allowUnbooted: true }, 'B');
    const bad = await start({ allowUnbooted: 'yes' }, 'C');
    assert.equal(bad.ok, false);
    assert.equal((bad as { error: { code: string } }).error.code, 'INVALID_ARGUMENT');
    assert.deepEqual(seen, [false, true]);
  } finally {
    await app.dispose();
    cleanup();
  }
});

test('the helper takes allowUnbooted only as a boolean', () => {
  const base = { source: '/dev/sdc', confirmed: { size: 64e9 }, outDir: '/home/p/atlas-build', tag: 'T' };
  assert.equal(checkCloneOptions(base).allowUnbooted, false);
  assert.equal(checkCloneOptions({ ...base, allowUnbooted: true }).allowUnbooted, true);
  assert.throws(() => checkCloneOptions({ ...base, allowUnbooted: 1 }), /malformed: allowUnbooted/);
});
