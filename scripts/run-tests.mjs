// Runs every compiled test file under out/test with node's test runner, one file at a time: the integration
// tests share the machine's loop devices. Pass a substring to run only matching files:
//   node scripts/run-tests.mjs partclone
// Any skipped test fails the run, with its name.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
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
// A skipped test is a failure: in CI it would hide what it was meant to check (most integration tests need
// root and loop devices). The spec report goes to the terminal, a TAP copy to a file to find the skips in.
const scratch = mkdtempSync(join(tmpdir(), 'atlas-tests-'));
const tap = join(scratch, 'report.tap');
// the app code the tests run (the CLI above all) keeps its job log and reads its settings in a scratch config
// folder, never in the config of the account running the tests
const env = { ...process.env, ATLAS_CONFIG_DIR: process.env.ATLAS_CONFIG_DIR ?? join(scratch, 'config') };
const result = spawnSync(
  process.execPath,
  [
    '--test',
    '--test-concurrency=1',
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    '--test-reporter=tap',
    `--test-reporter-destination=${tap}`,
    ...files,
  ],
  { stdio: 'inherit', env },
);
const skipped = existsSync(tap) ? skippedTests(readFileSync(tap, 'utf8')) : [];
rmSync(dirname(tap), { recursive: true, force: true });
if (skipped.length > 0) {
  console.error(`\n${skipped.length} test(s) skipped, which counts as a failure:`);
  for (const name of skipped) console.error(`  - ${name}`);
  process.exit(result.status || 1);
}
process.exit(result.status ?? 1);

/** The names (with the reasons) of the tests a TAP report marks `# SKIP`. */
function skippedTests(report) {
  return [...report.matchAll(/^\s*ok \d+ - (.*?) # SKIP\b\s*(.*)$/gm)].map(([, name, why]) =>
    why ? `${name} (${why})` : name,
  );
}
