/** One Content-Security-Policy: the built page carries the very policy the app's protocol handler sends. */
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { contentSecurityPolicy, POLICY_PLACEHOLDER, withPolicy } from '../../main/shared/renderer-policy';
import { sourceRoot } from '../support/source';

const metaPolicy = (html: string): string | undefined =>
  /<meta\s+http-equiv="Content-Security-Policy"\s+content="([^"]*)"/.exec(html)?.[1];

test('the built index.html carries the app policy and no other', () => {
  const built = readFileSync(resolve(__dirname, '..', '..', 'renderer', 'index.html'), 'utf8');
  assert.equal(metaPolicy(built), contentSecurityPolicy({ meta: true }));
  // the header carries the same policy plus what only a header can say
  assert.ok(contentSecurityPolicy().startsWith(contentSecurityPolicy({ meta: true })));
  assert.equal(built.match(/Content-Security-Policy/g)?.length, 1);
});

test('the source index.html holds only the placeholder the build fills', () => {
  const source = readFileSync(join(sourceRoot(), 'renderer', 'index.html'), 'utf8');
  assert.equal(metaPolicy(source), POLICY_PLACEHOLDER);
  assert.doesNotMatch(source, /default-src/);
});

test('withPolicy replaces the meta policy and refuses a page without one', () => {
  const page = '<head><meta http-equiv="Content-Security-Policy" content="x" /></head>';
  assert.equal(metaPolicy(withPolicy(page, "default-src 'none'")), "default-src 'none'");
  assert.throws(() => withPolicy('<head></head>', 'x'), /no Content-Security-Policy/);
});
