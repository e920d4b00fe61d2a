import test from 'node:test';
import assert from 'node:assert/strict';
import { isTrustedSender } from '../../../main/app/sender';

const trusted = new Set([7]);

test('IPC is accepted only from the main frame of a trusted window showing app://atlas', () => {
  assert.equal(isTrustedSender({ url: 'app://atlas/index.html', parent: null }, 7, trusted), true);
  assert.equal(
    isTrustedSender({ url: 'app://atlas/index.html', parent: {} }, 7, trusted),
    false,
    'a sub-frame',
  );
  assert.equal(
    isTrustedSender({ url: 'app://atlas/index.html', parent: null }, 8, trusted),
    false,
    'another webContents',
  );
  assert.equal(
    isTrustedSender({ url: 'https://example.com/', parent: null }, 7, trusted),
    false,
    'a remote page',
  );
  assert.equal(isTrustedSender({ url: 'file:///etc/passwd', parent: null }, 7, trusted), false, 'file://');
  assert.equal(
    isTrustedSender({ url: 'app://atlas.evil/', parent: null }, 7, trusted),
    false,
    'a look-alike host',
  );
  assert.equal(isTrustedSender({ url: 'not a url', parent: null }, 7, trusted), false);
  assert.equal(isTrustedSender(null, 7, trusted), false);
});
