/** The base-image hash cache: a hit only while the file is unchanged; a damaged cache costs only a re-hash. */
import test from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cachedSha256 } from '../../main/engine/library/hash-cache';

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
