/** The target rules on hand-made drives: what is refused, what only warns, and the helper's error codes. */
import test from 'node:test';
import assert from 'node:assert/strict';
import { assertTarget, findDrive, isSafeTarget, targetReasons } from '../../main/engine/drives/rules';
import type { Drive } from '../../main/engine/drives/list';
import { isAtlasError } from '../../main/engine/errors';
import { engineCard as card, GB } from '../support/drives';

const codes = (d: Drive, imageSize?: number): string[] =>
  targetReasons(d, { imageSize }).map((r) => `${r.level}:${r.code}`);

test('a plain removable card has no reason against it', () => {
  assert.deepEqual(codes(card(), 4 * GB), []);
  assert.equal(isSafeTarget(card()), true);
});

test('each unsafe property is an error with its own code', () => {
  assert.deepEqual(codes(card({ readOnly: true })), ['error:READ_ONLY']);
  assert.deepEqual(codes(card({ holdsRoot: true, system: true })), ['error:SYSTEM_DISK']);
  assert.deepEqual(codes(card({ holdsApp: true })), ['error:HOLDS_APP']);
  assert.deepEqual(codes(card({ containsSource: true })), ['error:SOURCE_IS_TARGET']);
  assert.deepEqual(codes(card({ removable: false, system: true })), ['error:NOT_REMOVABLE']);
  assert.deepEqual(codes(card({ wholeDisk: false })), ['error:NOT_WHOLE_DISK']);
  assert.deepEqual(codes(card({ size: 8 * GB }), 16 * GB), ['error:TARGET_TOO_SMALL']);
  // zram: drivelist calls it removable; virtual with no size is never offered
  assert.deepEqual(codes(card({ virtual: true, size: null, removable: false })), [
    'error:VIRTUAL',
    'error:SIZE_UNKNOWN',
  ]);
});

test('a large drive only warns, and assertTarget lets it through with the warning', () => {
  const big = card({ size: 256 * GB, large: true });
  assert.deepEqual(codes(big), ['warning:LARGE_DRIVE']);
  assert.equal(isSafeTarget(big), true);
  assert.deepEqual(
    assertTarget(big).map((r) => r.code),
    ['LARGE_DRIVE'],
  );
});

test('assertTarget throws the first error as an AtlasError the helper reports', () => {
  assert.throws(
    () => assertTarget(card({ removable: false, system: true })),
    (e: unknown) => isAtlasError(e, 'NOT_REMOVABLE') && /removable/.test(e.message),
  );
  assert.throws(
    () => assertTarget(card({ holdsRoot: true })),
    (e: unknown) => isAtlasError(e, 'SYSTEM_DISK'),
  );
  assert.throws(
    () => assertTarget(card({ readOnly: true })),
    (e: unknown) => isAtlasError(e, 'READ_ONLY'),
  );
  assert.throws(
    () => assertTarget(card({ size: GB }), { imageSize: 2 * GB }),
    (e: unknown) => isAtlasError(e, 'TARGET_TOO_SMALL'),
  );
});

test('findDrive matches the device or the macOS raw node', () => {
  const mac = card({ device: '/dev/disk4', raw: '/dev/rdisk4' });
  assert.equal(findDrive([card(), mac], '/dev/rdisk4'), mac);
  assert.equal(findDrive([card(), mac], '/dev/disk4'), mac);
  assert.equal(findDrive([card(), mac], '/dev/sdc'), undefined);
});
