/**
 * One target rule for every layer: the engine's drive record (what the CLI and the helper judge) and the
 * contract's Drive made from it (what the renderer's drive list and main's handlers judge) must be refused or
 * offered alike, and main refuses a request exactly when the rule does.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { targetReasons as engineReasons } from '../../main/engine/drives/rules';
import { toDrive } from '../../main/app/adapters';
import { createHandlers } from '../../main/app/handlers';
import { driveReasons, isInside, REASON_LABELS } from '../../main/shared/targets';
import type { Drive as EngineDrive } from '../../main/engine/drives/list';
import type { Drive } from '../../main/contract';
import { engineCard, GB, snapshotOf } from '../support/drives';
import { scratchDir } from '../support/sh';

const TABLE: Array<[string, Partial<EngineDrive>]> = [
  ['a plain card', {}],
  ['a locked card', { readOnly: true }],
  ['the disk holding /', { holdsRoot: true, system: true, removable: false, mountpoints: ['/'] }],
  ['a removable system disk', { system: true }],
  ['the stick the app runs from', { holdsApp: true }],
  ['an internal data disk', { system: true, removable: false }],
  ['zram', { virtual: true, removable: false, size: null }],
  ['a partition', { wholeDisk: false }],
  ['an empty reader', { size: null }],
  ['a card too small for the image', { size: 1 * GB }],
  ['a card holding the image', { mountpoints: ['/media/card'], containsSource: true }],
  ['a large drive', { size: 256 * GB, large: true }],
];
const IMAGE = { imageSize: 4 * GB, sourcePath: '/media/card/atlas.img' };

const levels = (reasons: Array<{ level: string }>, level: string): number =>
  reasons.filter((r) => r.level === level).length;

test('the engine record and the contract Drive of a drive are refused or offered alike', () => {
  for (const [name, over] of TABLE) {
    const engine = engineReasons(engineCard(over), IMAGE);
    const contract = driveReasons(toDrive(engineCard(over)), 'write', IMAGE);
    assert.equal(levels(contract, 'error') > 0, levels(engine, 'error') > 0, `${name}: refused alike`);
    assert.deepEqual(
      contract.filter((r) => r.level === 'warning').map((r) => r.code),
      engine.filter((r) => r.level === 'warning').map((r) => r.code),
      `${name}: the same warnings`,
    );
    for (const r of contract) assert.ok(REASON_LABELS[r.code], `${name}: ${r.code} has a badge`);
  }
});

test('main refuses a write target exactly when the rule does', async () => {
  const { dir, cleanup } = scratchDir('atlas-target-rules-');
  try {
    for (const [name, over] of TABLE) {
      const drive: Drive = toDrive(engineCard({ ...over, device: '/dev/sdx', raw: '/dev/sdx' }));
      const image = join(dir, 'atlas.img');
      writeFileSync(image, Buffer.alloc(4096));
      // main sees the image on a card by its mountpoint
      const withMount: Drive = over.containsSource ? { ...drive, mountpoints: [dir] } : drive;
      let started = false;
      const app = createHandlers({
        version: '0',
        platform: 'linux',
        configDir: join(dir, 'config'),
        homeDir: dir,
        listDrives: async () => [withMount],
        emit: () => {},
        runDeviceJob: async () => {
          started = true;
          throw new Error('not run');
        },
      });
      const reply = await app.dispatch('flash:start', {
        image,
        targets: [snapshotOf(withMount)],
        verify: true,
      });
      await app.dispose();
      const rule = driveReasons(withMount, 'write', { imageSize: 4096, sourcePath: image });
      assert.equal(reply.ok, levels(rule, 'error') === 0, `${name}: main agrees with the rule`);
      if (!reply.ok) assert.ok(!started, `${name}: a refused request starts nothing`);
    }
  } finally {
    cleanup();
  }
});

test('a clone source needs a card; the system disk only warns', () => {
  assert.deepEqual(
    driveReasons(toDrive(engineCard({ size: null })), 'read').map((r) => r.level),
    ['error'],
  );
  assert.deepEqual(
    driveReasons(toDrive(engineCard({ holdsRoot: true })), 'read').map((r) => `${r.level}:${r.code}`),
    ['warning:SYSTEM_DISK'],
  );
});

test('one mountpoint containment rule: a folder holds its own subtree only', () => {
  assert.equal(isInside('/media/a/x.img', '/media/a'), true);
  assert.equal(isInside('/media/a/x.img', '/media/a/'), true);
  assert.equal(isInside('/media/a', '/media/a'), true);
  assert.equal(isInside('/media/ab/x.img', '/media/a'), false);
  assert.equal(isInside('/media/b/../a/x.img', '/media/a'), true);
  assert.equal(isInside('/anything', '/'), true);
  assert.equal(isInside('/media', '/media/a'), false);
});
