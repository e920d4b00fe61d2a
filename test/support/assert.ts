/** Assertions the engine's tests share. */
import assert from 'node:assert/strict';
import { isAtlasError, type AtlasError } from '../../main/engine/errors';
import { run, tryRun } from './sh';

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

/** The AtlasError the promise rejects with (failing when it resolves, or rejects with anything else). */
export async function rejection(promise: Promise<unknown>): Promise<AtlasError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(isAtlasError(error), `expected an AtlasError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected a rejection');
}

/** e2fsck -fn (the oracle) finds the ext4 filesystem at `offset` bytes into `img` clean. */
export function e2fsckClean(img: string, offset = 0): void {
  const r = tryRun('e2fsck', ['-fn', offset ? `${img}?offset=${offset}` : img]);
  assert.equal(r.status, 0, `e2fsck -fn failed:\n${r.stdout}${r.stderr}`);
}

/** Flips the bits of `mask` in the byte at `at` (damage a test puts into an image or an archive). */
export function flipBits(bytes: Uint8Array, at: number, mask = 0xff): void {
  if (at < 0 || at >= bytes.length) throw new Error(`byte ${at} is outside the ${bytes.length} bytes`);
  bytes[at] = bytes[at]! ^ mask;
}
