/** The engine's refusals name no CLI flags; a CLI command adds what its flag does (withFlagHint). */
import test from 'node:test';
import assert from 'node:assert/strict';
import { withFlagHint } from '../../main/cli/command';
import { AtlasError } from '../../main/engine/errors';
import { rejection } from '../support/assert';

const mounted = (): Promise<never> =>
  Promise.reject(
    new AtlasError(
      'SOURCE_MOUNTED',
      '/dev/sdc has mounted partitions (/dev/sdc1 on /media/boot). Unmount them first.',
      {
        device: '/dev/sdc',
      },
    ),
  );

test('a refusal of the named code gets the flag, keeping its code and facts', async () => {
  const error = await rejection(withFlagHint(mounted(), ['SOURCE_MOUNTED'], '--unmount unmounts them.'));
  assert.equal(error.code, 'SOURCE_MOUNTED');
  assert.equal(
    error.message,
    '/dev/sdc has mounted partitions (/dev/sdc1 on /media/boot). Unmount them first. (--unmount unmounts them.)',
  );
  assert.deepEqual(error.details, { device: '/dev/sdc' });
});

test('other refusals and results pass unchanged', async () => {
  const error = await rejection(withFlagHint(mounted(), ['TARGET_MOUNTED'], '--unmount unmounts them.'));
  assert.doesNotMatch(error.message, /--unmount/);
  assert.equal(await withFlagHint(Promise.resolve(7), ['SOURCE_MOUNTED'], 'x'), 7);
});
