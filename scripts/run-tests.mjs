// Runs every compiled test file under out/test with node's test runner, one file at a time: the integration
// tests share the machine's loop devices. Pass a substring to run only matching files:
//   node scripts/run-tests.mjs partclone
import { readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = process.env.ATLAS_OUT
  ? resolve(process.env.ATLAS_OUT, 'test')
  : new URL('../out/test', import.meta.url).pathname;
const filter = process.argv[2] ?? '';

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : path.endsWith('.test.js') ? [path] : [];
  });
}

const files = walk(root)
  .filter((f) => relative(root, f).includes(filter)) // relative: the build folder's own name must not match
  .sort();
if (files.length === 0) {
  console.error(`no test files match "${filter}"`);
  process.exit(1);
}
const result = spawnSync(
  process.execPath,
  ['--test', '--test-concurrency=1', '--test-reporter=spec', ...files],
  {
    stdio: 'inherit',
  },
);
process.exit(result.status ?? 1);
