/** Assertions the engine's tests share. */
import assert from 'node:assert/strict';
import { isAtlasError } from '../../main/engine/errors';
import { run } from './sh';

/** Expects the promise to reject with an AtlasError of `code` whose sentence matches `pattern`. */
export async function rejectsWith(promise: Promise<unknown>, code: string, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(isAtlasError(error), `expected an AtlasError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    assert.match(error.message, pattern);
    return true;
  });
}

/** sha256 of a file, by sha256sum (the oracle, not our own hashing). */
export function sha256sum(path: string): string {
  return run('sha256sum', [path]).split(' ')[0]!;
}
