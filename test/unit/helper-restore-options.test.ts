/** The broker's check of a restore request: 1-16 confirmed cards, an intent, a hostname for each card of a deploy. */
import test from 'node:test';
import assert from 'node:assert/strict';
import { checkRestoreOptions } from '../../main/helper/jobs';
import { isAtlasError } from '../../main/engine/errors';

const card = (n: number, extra: Record<string, unknown> = {}) => ({
  device: `/dev/sd${String.fromCharCode(98 + n)}`,
  confirmed: { size: 100, serial: `S${n}` },
  ...extra,
});

test('a well-formed deploy and exact restore are taken as they are, nothing else kept', () => {
  const deploy = checkRestoreOptions({
    folder: '/b/golden-clone-X',
    targets: [card(0, { hostname: 'a-1' }), card(1, { hostname: 'a-2', extra: 'dropped' })],
    intent: 'deploy',
    testHooks: { beforeVerify: 'evil' },
  });
  assert.deepEqual(deploy, {
    folder: '/b/golden-clone-X',
    targets: [
      { device: '/dev/sdb', confirmed: { size: 100, serial: 'S0' }, hostname: 'a-1' },
      { device: '/dev/sdc', confirmed: { size: 100, serial: 'S1' }, hostname: 'a-2' },
    ],
    intent: 'deploy',
    grow: true,
    eject: true,
  });
  const exact = checkRestoreOptions({ folder: '/b/c', targets: [card(0)], intent: 'exact', grow: false });
  assert.equal(exact.grow, false);
  assert.equal('hostname' in exact.targets[0]!, false);
});

test('malformed restore requests are refused before any card is opened', () => {
  const ok = { folder: '/b/c', targets: [card(0)], intent: 'exact' };
  for (const bad of [
    null,
    [],
    { ...ok, folder: 'relative' },
    { ...ok, intent: undefined },
    { ...ok, intent: 'clone' },
    { ...ok, targets: [] },
    { ...ok, targets: 'sdb' },
    { ...ok, targets: Array.from({ length: 17 }, (_, i) => card(i)) },
    { ...ok, targets: [card(0), card(0)] },
    { ...ok, targets: [{ device: '/dev/sdb' }] },
    { ...ok, targets: [card(0, { confirmed: { size: 0 } })] },
    { ...ok, targets: [card(0, { device: 'sdb' })] },
    { ...ok, targets: [card(0, { hostname: 'a' })] },
    { ...ok, intent: 'deploy' },
    { ...ok, intent: 'deploy', targets: [card(0, { hostname: 7 })] },
  ]) {
    assert.throws(
      () => checkRestoreOptions(bad),
      (e: unknown) => isAtlasError(e, 'INVALID_ARGUMENT'),
      JSON.stringify(bad),
    );
  }
});
