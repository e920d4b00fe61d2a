/**
 * The block hash's oracle: `xxhsum -H3` (the xxHash project's own tool) of some bytes, as the engine prints it
 * (16 hex digits, XXH3-64 with seed 0). Shared by the hash's own tests and the package test.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from './sh';

/** XXH3-64 of `data` by `xxhsum -H3`, the bytes written to a file in `dir` first. */
export function xxhsum(data: Uint8Array, dir: string): string {
  const file = join(dir, 'xxhsum-input');
  writeFileSync(file, data);
  // "XXH3 (file) = 16 hex digits"
  const hash = /= ([0-9a-f]{16})\s*$/.exec(run('xxhsum', ['-H3', file]))?.[1];
  assert.ok(hash, 'xxhsum -H3 printed no hash');
  return hash;
}
