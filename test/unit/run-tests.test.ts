/** The test runner fails a run in which any test was skipped, and names it: a skip must never pass as green. */
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sourceRoot } from '../support/source';
import { scratchDir } from '../support/sh';

function runTests(files: Record<string, string>): { status: number | null; output: string } {
  const { dir, cleanup } = scratchDir('atlas-run-tests-');
  try {
    mkdirSync(join(dir, 'test'));
    for (const [name, body] of Object.entries(files)) writeFileSync(join(dir, 'test', name), body);
    const r = spawnSync(process.execPath, [join(sourceRoot(), 'scripts', 'run-tests.mjs')], {
      env: childEnv(dir),
      encoding: 'utf8',
    });
    return { status: r.status, output: r.stdout + r.stderr };
  } finally {
    cleanup();
  }
}

/** This process's environment minus node:test's marker, which would make the child's runner skip its files. */
function childEnv(out: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ATLAS_OUT: out };
  delete env.NODE_TEST_CONTEXT;
  return env;
}

const PASSING = "require('node:test')('adds', () => { if (1 + 1 !== 2) throw new Error('no'); });\n";

test('a run of passing tests passes', () => {
  const r = runTests({ 'a.test.js': PASSING });
  assert.equal(r.status, 0, r.output);
});

test('a skipped test fails the run, named with its reason', () => {
  const r = runTests({
    'a.test.js': PASSING,
    'b.test.js': "require('node:test')('needs a loop device', { skip: 'not root' }, () => {});\n",
  });
  assert.notEqual(r.status, 0);
  assert.match(r.output, /1 test\(s\) skipped/);
  assert.match(r.output, /- needs a loop device \(not root\)/);
});
