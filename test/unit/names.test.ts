/**
 * The tag rule, one table through every layer's entry point: main/shared/names (what the renderer previews),
 * the engine (insert and clone), the handlers (insert:start, clone:start) and the CLI (atlas insert, atlas
 * clone). A good tag gets past the name check (the request fails later, on the missing base or source, or
 * starts); a bad one is refused as INVALID_ARGUMENT naming the tag, before anything is read or written.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { goldenImageName, isValidTag, parseGoldenNumber } from '../../main/shared/names';
import { checkGoldenNumber, checkTag } from '../../main/engine/names';
import { insertJob } from '../../main/engine/jobs/insert';
import { cloneJob } from '../../main/engine/jobs/clone';
import { localCardAccess } from '../../main/engine/drives/index';
import { isAtlasError } from '../../main/engine/errors';
import { createHandlers } from '../../main/app/handlers';
import { main } from '../../main/cli/index';
import { parseVersionOption } from '../../main/cli/commands/insert';
import type { Drive, Reply } from '../../main/contract';
import { scratchDir } from '../support/sh';
import { card as driveFixture } from '../support/drives';
import { BAD_TAGS, GOOD_TAGS } from '../support/tag-cases';

const { dir, cleanup } = scratchDir('atlas-names-');
test.after(cleanup);
const missing = join(dir, 'missing.img');
const inputs = Object.fromEntries(
  ['firstboot', 'service', 'secrets'].map((name) => {
    const path = join(dir, name);
    writeFileSync(path, 'x');
    return [name, path];
  }),
) as { firstboot: string; service: string; secrets: string };

/** The tag is named in the refusal (JSON-quoted when it holds what a message would not show plainly). */
function refusesTag(tag: string): (error: unknown) => boolean {
  return (error) =>
    isAtlasError(error, 'INVALID_ARGUMENT') &&
    (tag === '' || error.message.includes(`"${tag}"`) || error.message.includes(JSON.stringify(tag)));
}

test('main/shared/names: the rule the renderer previews with', () => {
  for (const tag of GOOD_TAGS) assert.equal(isValidTag(tag), true, tag);
  for (const tag of BAD_TAGS) assert.equal(isValidTag(tag), false, JSON.stringify(tag));
  assert.equal(goldenImageName(8, 1, 'FLASH'), 'ods-atlas-golden-v8-1-FLASH.img');
  assert.equal(parseGoldenNumber('8'), 8);
  assert.equal(parseGoldenNumber('0'), 0);
  assert.equal(parseGoldenNumber('9999'), 9999);
  for (const bad of ['', '-1', '1.5', '10000', ' 8', 'x', '1e3'])
    assert.equal(parseGoldenNumber(bad), null, bad);
});

test('engine: checkTag, and insert refuses a bad tag before reading anything', async () => {
  for (const tag of GOOD_TAGS) assert.equal(checkTag(tag), tag);
  for (const tag of BAD_TAGS.filter((t) => t !== '')) assert.throws(() => checkTag(tag), refusesTag(tag));
  const options = { base: missing, ...inputs, version: 8, patch: 1, outDir: join(dir, 'out') };
  for (const tag of GOOD_TAGS) {
    await assert.rejects(insertJob({ ...options, tag }), (e) => isAtlasError(e, 'NOT_FOUND'), tag);
  }
  for (const tag of BAD_TAGS) await assert.rejects(insertJob({ ...options, tag }), refusesTag(tag));
  for (const [version, patch] of [
    [-1, 0],
    [8, 1.5],
    [10000, 0],
    [Number.NaN, 0],
  ] as const) {
    await assert.rejects(
      insertJob({ ...options, tag: 'FLASH', version, patch }),
      (e) => isAtlasError(e, 'INVALID_ARGUMENT') && /must be a whole number from 0 to 9999/.test(e.message),
    );
  }
  assert.equal(checkGoldenNumber(9999, 'version N'), 9999);
  assert.deepEqual(readdirSync(dir).sort(), ['firstboot', 'secrets', 'service'], 'nothing was written');
});

test('engine: clone refuses a bad tag before it looks at the source', async () => {
  for (const tag of GOOD_TAGS) {
    await assert.rejects(
      cloneJob({ source: missing, outDir: dir, tag, access: localCardAccess() }),
      (e) => isAtlasError(e) && e.code !== 'INVALID_ARGUMENT',
      tag,
    );
  }
  for (const tag of BAD_TAGS) {
    await assert.rejects(
      cloneJob({ source: missing, outDir: dir, tag, access: localCardAccess() }),
      refusesTag(tag),
    );
  }
});

test('handlers: insert:start and clone:start', async () => {
  const card: Drive = driveFixture({ size: 32e9 });
  const started: string[] = [];
  const app = createHandlers({
    version: '0.0.0-test',
    platform: 'linux',
    configDir: join(dir, 'config'),
    homeDir: join(dir, 'home'),
    listDrives: async () => [card],
    emit: () => undefined,
    fileJobs: { insert: async (r) => (started.push(`insert ${r.tag}`), Promise.reject(new Error('stop'))) },
    runDeviceJob: async (_kind, r) => (
      started.push(`clone ${(r as { tag: string }).tag}`),
      Promise.reject(new Error('stop'))
    ),
  });
  const insert = { ...inputs, base: inputs.firstboot, version: 8, patch: 1, outDir: join(dir, 'out') };
  const clone = {
    source: { device: card.device, size: card.size, serial: card.serial },
    outDir: join(dir, 'out'),
  };
  const code = (reply: Reply<unknown>): string => (reply.ok ? 'ok' : reply.error.code);
  // a started job holds its card until it has finished (its job-log line written): one clone at a time
  const settled = async (): Promise<void> => {
    while (app.jobs.list().length > 0) await new Promise((resolve) => setTimeout(resolve, 5));
  };
  for (const tag of GOOD_TAGS) {
    assert.equal(code(await app.dispatch('insert:start', { ...insert, tag })), 'ok', tag);
    assert.equal(code(await app.dispatch('clone:start', { ...clone, tag })), 'ok', tag);
    await settled();
  }
  for (const tag of BAD_TAGS) {
    assert.equal(code(await app.dispatch('insert:start', { ...insert, tag })), 'INVALID_ARGUMENT', tag);
    assert.equal(code(await app.dispatch('clone:start', { ...clone, tag })), 'INVALID_ARGUMENT', tag);
  }
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(started.sort(), GOOD_TAGS.flatMap((t) => [`clone ${t}`, `insert ${t}`]).sort());
});

/** Runs the CLI in this process; its exit code and what it printed. */
async function atlas(args: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  const sink = (): PassThrough => {
    const s = new PassThrough();
    s.on('data', (chunk: Buffer) => (out += chunk.toString()));
    return s;
  };
  const code = await main(args, { stdout: sink(), stderr: sink(), stdin: new PassThrough() });
  return { code, out };
}

test('CLI: atlas insert --tag and atlas clone --tag; --version N-P is the CLI’s own format', async () => {
  const insert = (tag: string) =>
    atlas([
      'insert',
      missing,
      ...['--firstboot', inputs.firstboot, '--service', inputs.service, '--secrets', inputs.secrets],
      ...['--version', '8-1', `--tag=${tag}`, '--out', join(dir, 'out'), '--json'],
    ]);
  const clone = (tag: string) => atlas(['clone', missing, join(dir, 'out'), `--tag=${tag}`, '--json']);
  for (const tag of GOOD_TAGS) {
    for (const run of [insert, clone]) {
      const r = await run(tag);
      assert.equal(r.code, 1, `${tag}: ${r.out}`);
      assert.doesNotMatch(r.out, /INVALID_ARGUMENT/, tag);
    }
  }
  for (const tag of BAD_TAGS) {
    for (const run of [insert, clone]) {
      const r = await run(tag);
      assert.equal(r.code, 2, `${JSON.stringify(tag)}: ${r.out}`);
      assert.match(r.out, tag === '' ? /needs --tag/ : /cannot be used in a file name/);
    }
  }
  assert.deepEqual(parseVersionOption('8-1'), { version: 8, patch: 1 });
  assert.deepEqual(parseVersionOption('v10-0'), { version: 10, patch: 0 });
  for (const bad of ['8', '8.1', '8-1-0', '-1', 'a-b', '', '10000-0']) {
    assert.throws(
      () => parseVersionOption(bad),
      (e) => isAtlasError(e, 'INVALID_ARGUMENT') && /is not N-P/.test(e.message),
      bad,
    );
  }
});
