/** sudo-prompt's failures become sentences a person can act on, each with its own code. */
import test from 'node:test';
import assert from 'node:assert/strict';
import { elevationError } from '../../main/helper/launch';
import { checkFlashOptions } from '../../main/helper/jobs';
import { isAtlasError } from '../../main/engine/errors';

test('declined, no polkit agent, no pkexec', () => {
  const declined = elevationError(new Error('User did not grant permission.'));
  assert.equal(declined.code, 'PERMISSION_DENIED');
  assert.match(declined.message, /nothing was written/);
  const agent = elevationError(new Error('No polkit authentication agent found.'));
  assert.equal(agent.code, 'ELEVATION_FAILED');
  assert.match(agent.message, /polkit authentication agent/);
  assert.match(agent.message, /sudo atlas/);
  assert.match(
    elevationError(new Error('Unable to find pkexec or kdesudo.')).message,
    /pkexec is not installed/,
  );
});

test('the helper accepts only well-formed flash requests, always re-validating and without test hooks', () => {
  const ok = checkFlashOptions({
    source: '/x.img',
    targets: [{ device: '/dev/sdb', confirmed: { size: 100, serial: 'S' } }],
    testHooks: { beforeVerify: 'evil' },
  });
  assert.equal('testHooks' in ok, false);
  assert.deepEqual(ok.targets, [{ device: '/dev/sdb', confirmed: { size: 100, serial: 'S' } }]);
  for (const bad of [
    null,
    { source: '/x.img', targets: [] },
    { source: '/x.img', targets: [{ device: '/dev/sdb' }] },
    { source: '/x.img', targets: [{ device: '/dev/sdb', confirmed: { size: -1 } }] },
    { targets: [{ device: '/dev/sdb', confirmed: { size: 1 } }] },
  ]) {
    assert.throws(
      () => checkFlashOptions(bad),
      (e: unknown) => isAtlasError(e, 'INVALID_ARGUMENT'),
    );
  }
});
