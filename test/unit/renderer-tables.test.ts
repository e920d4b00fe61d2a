/**
 * One table component in the renderer (components/DataTable.tsx): a list written out as its own <table> misses
 * what DataTable gives every table (a name, header scopes, the empty text, row actions named for their row). The
 * few tables left outside it are named here, and the list may only shrink.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { relative } from 'node:path';
import { sourceFiles, sourceRoot } from '../support/source';

/** Not lists: a job's result details and the hostname preview (which has its own caption). */
const OUTSIDE = [
  'renderer/src/components/DeployOptions.tsx',
  'renderer/src/pages/Clone.tsx',
  'renderer/src/pages/Insert.tsx',
];

test('every table the renderer writes is a DataTable, but for the few named', () => {
  const withTable = sourceFiles('renderer/src', ['.tsx'])
    .filter((f) => /<table\b/.test(f.text))
    .map((f) => relative(sourceRoot(), f.path).split('\\').join('/'))
    .sort();
  assert.deepEqual(withTable, ['renderer/src/components/DataTable.tsx', ...OUTSIDE].sort());
});
