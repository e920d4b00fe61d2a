import test from 'node:test';
import assert from 'node:assert/strict';
import { judge, probeOffsets } from '../../main/engine/jobs/check-card';

const MIB = 1024 * 1024;

test('probes: every power of two from 1 MiB, spread evenly, the last place, sector-aligned and ascending', () => {
  const size = 1000 * MIB + 512;
  const offsets = probeOffsets(size, 512);
  for (let p = MIB; p < 1000 * MIB; p *= 2) assert.ok(offsets.includes(p), `no probe at ${p}`);
  assert.equal(offsets.at(-1), size - 4096);
  assert.ok(offsets.every((o, i) => o % 512 === 0 && (i === 0 || o > offsets[i - 1]!)));
});

test('judge: a wrap found from the distances between a probe and the marker it read', () => {
  const offsets = [1, 2, 4, 8, 16, 32, 48, 63].map((m) => m * MIB);
  // a 16 MiB card: 16, 32, 48 land on 0 (no probe), 1,2,4,8 keep theirs, 63 lands on 15 (no probe)
  // 32 and 16 read 48's marker (written last at the same place)
  const readBack = ['own', 'own', 'own', 'own', 48 * MIB, 48 * MIB, 'own', 'own'] as const;
  const r = judge(offsets, readBack, 4096);
  assert.equal(r.verdict, 'fake');
  assert.equal(r.wrapsAt, 16 * MIB);
  assert.equal(r.realBytesAtMost, 16 * MIB);
  assert.equal(r.realBytesAtLeast, 8 * MIB + 4096);
});

test('judge: a card that drops writes past its end is bounded by the first probe that lost its marker', () => {
  const offsets = [1, 2, 4, 8, 16].map((m) => m * MIB);
  const r = judge(offsets, ['own', 'own', 'own', null, null], 4096);
  assert.deepEqual(r, {
    verdict: 'fake',
    realBytesAtMost: 8 * MIB,
    realBytesAtLeast: 4 * MIB + 4096,
    wrapsAt: null,
  });
});

test('judge: every probe held its own marker', () => {
  assert.equal(judge([MIB, 2 * MIB], ['own', 'own'], 4096).verdict, 'genuine');
});
