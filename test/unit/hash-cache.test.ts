/** The base-image hash cache: a hit only while the file is unchanged; a damaged cache costs only a re-hash. */
import test from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cachedSha256 } from '../../main/engine/jobs/insert/hash-cache';

test('hashes once, then serves the cache until the file changes', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'atlas-hash-cache-'));
  try {
    const file = join(dir, 'base.img');
    const cache = join(dir, 'cache');
    writeFileSync(file, 'one');
    let computed = 0;
    const compute = async (): Promise<string> => {
      computed++;
      return createHash('sha256').update(readFileSync(file)).digest('hex');
    };
    const first = await cachedSha256(file, cache, compute);
    assert.deepEqual(first, { sha256: createHash('sha256').update('one').digest('hex'), cached: false });
    const second = await cachedSha256(file, cache, compute);
    assert.deepEqual(second, { sha256: first.sha256, cached: true });
    assert.equal(computed, 1);

    appendFileSync(file, ' two');
    const third = await cachedSha256(file, cache, compute);
    assert.deepEqual(third, { sha256: createHash('sha256').update('one two').digest('hex'), cached: false });
    assert.equal(computed, 2);

    writeFileSync(join(cache, 'sha256-cache.json'), '{ not json');
    const fourth = await cachedSha256(file, cache, compute);
    assert.equal(fourth.cached, false);
    assert.equal(fourth.sha256, third.sha256);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a second caller joins a hash already running; when that one fails, it hashes on its own', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'atlas-hash-cache-'));
  try {
    const file = join(dir, 'base.img');
    const cache = join(dir, 'cache');
    writeFileSync(file, 'base');
    const expected = createHash('sha256').update('base').digest('hex');
    let release: ((sha: string) => void) | null = null;
    const until = async (ready: () => boolean): Promise<void> => {
      while (!ready()) await new Promise((resolve) => setTimeout(resolve, 2));
    };
    let computed = 0;
    const slow = (): Promise<string> => {
      computed++;
      return new Promise((resolve) => (release = resolve));
    };
    const first = cachedSha256(file, cache, slow);
    await until(() => release !== null);
    // the second starts while the first is still reading: it must not read the file again
    const second = cachedSha256(file, cache, async () => {
      computed++;
      return 'f'.repeat(64);
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    release!(expected);
    assert.deepEqual(await first, { sha256: expected, cached: false });
    assert.deepEqual(await second, { sha256: expected, cached: true });
    assert.equal(computed, 1);

    writeFileSync(file, 'changed'); // a new identity, so nothing cached for it
    let fail: ((error: Error) => void) | null = null;
    const failing = cachedSha256(file, cache, () => new Promise<string>((_, reject) => (fail = reject)));
    await until(() => fail !== null);
    const own = cachedSha256(file, cache, async () => createHash('sha256').update('changed').digest('hex'));
    await new Promise((resolve) => setTimeout(resolve, 20));
    fail!(new Error('cancelled'));
    await assert.rejects(failing, /cancelled/);
    assert.equal((await own).sha256, createHash('sha256').update('changed').digest('hex'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
