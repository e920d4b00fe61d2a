/** The deployment record: one line per card, read back newest first, a torn or foreign line skipped. */
import test from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  appendDeployments,
  DEPLOYMENTS_FILE,
  deploymentRecords,
  readDeployments,
} from '../../main/engine/library/deployments';
import type { RestoreResult } from '../../main/engine/jobs/restore';

const result = (intent: 'exact' | 'deploy'): RestoreResult => ({
  folder: '/b/golden-clone-T1',
  intent,
  cloneTag: 'T1',
  manifestSha256: 'ab'.repeat(32),
  manifestChecked: true,
  table: { label: 'dos', id: '0x1', sectorSize: 512, partitions: [] } as unknown as RestoreResult['table'],
  partitions: [],
  ok: false,
  targets: [
    {
      device: '/dev/sdb',
      ok: true,
      verified: true,
      bytesWritten: 10,
      grow: 'resized',
      growMessage: '',
      hostname: intent === 'deploy' ? 'k-1' : null,
      identityChanges: [],
      ejected: true,
    },
    {
      device: '/dev/sdc',
      ok: false,
      verified: false,
      bytesWritten: 5,
      grow: 'none',
      growMessage: '',
      hostname: intent === 'deploy' ? 'k-2' : null,
      identityChanges: [],
      ejected: false,
      error: { code: 'IO_ERROR', message: 'Writing /dev/sdc at byte 4096', details: {} },
    },
  ],
  writeSeconds: 1,
  verifySeconds: 1,
});

test('one record per card, with the clone, the card as listed and how it ended', () => {
  const when = new Date('2026-11-27T10:00:00Z');
  const records = deploymentRecords(
    result('deploy'),
    [{ device: '/dev/sdb', model: 'SanDisk', serial: 'X1', size: 32e9 }],
    when,
  );
  assert.deepEqual(records[0], {
    time: '2026-11-27T10:00:00.000Z',
    clone: 'golden-clone-T1',
    cloneTag: 'T1',
    manifestSha256: 'ab'.repeat(32),
    intent: 'deploy',
    card: { device: '/dev/sdb', model: 'SanDisk', serial: 'X1', size: 32e9 },
    hostname: 'k-1',
    verified: true,
    ok: true,
    error: null,
    reason: null,
  });
  assert.deepEqual(records[1]!.card, { device: '/dev/sdc', model: '', serial: null, size: null });
  assert.equal(records[1]!.error, 'IO_ERROR');
  assert.equal(records[1]!.reason, 'Writing /dev/sdc at byte 4096', 'a failed card says where and why');
});

test('appended as lines, read newest first; a torn line and a foreign one are skipped', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'atlas-deployments-'));
  try {
    assert.deepEqual(await readDeployments(dir), []);
    await appendDeployments(dir, deploymentRecords(result('exact'), [], new Date('2026-01-01T00:00:00Z')));
    appendFileSync(join(dir, DEPLOYMENTS_FILE), '{"time": "2026-01-02", "clone": \n{"hello":1}\n');
    await appendDeployments(dir, deploymentRecords(result('deploy'), [], new Date('2026-01-03T00:00:00Z')));
    assert.equal(readFileSync(join(dir, DEPLOYMENTS_FILE), 'utf8').split('\n').length, 7);
    const records = await readDeployments(dir);
    assert.deepEqual(
      records.map((r) => [r.time.slice(0, 10), r.card.device, r.intent]),
      [
        ['2026-01-03', '/dev/sdc', 'deploy'],
        ['2026-01-03', '/dev/sdb', 'deploy'],
        ['2026-01-01', '/dev/sdc', 'exact'],
        ['2026-01-01', '/dev/sdb', 'exact'],
      ],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
