/**
 * Every error code the engine can report has a hint written for the app: present, not blank, and naming no
 * command-line flag (the app has none). The codes are read from the AtlasErrorCode type itself by the
 * TypeScript checker, so a code added to the engine without a hint fails here.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import ts from 'typescript';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { HINTS, hintFor } from '../../../main/shared/hints';
import { corruptArchive } from '../../../main/engine/compress/source';
import { checkOutput } from '../../../main/engine/jobs/insert/inputs';
import { isAtlasError } from '../../../main/engine/errors';

const root = join(__dirname, '..', '..', '..', '..');

function errorCodes(): string[] {
  const file = join(root, 'main', 'engine', 'errors.ts');
  const program = ts.createProgram([file], { strict: true, noEmit: true, skipLibCheck: true });
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(file)!;
  const symbol = checker
    .getExportsOfModule(checker.getSymbolAtLocation(source)!)
    .find((s) => s.name === 'AtlasErrorCode');
  assert.ok(symbol, 'main/engine/errors.ts exports AtlasErrorCode');
  const type = checker.getDeclaredTypeOfSymbol(
    symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol,
  );
  const members = type.isUnion() ? type.types : [type];
  return members.map((t) => {
    assert.ok(t.isStringLiteral(), 'every code is a string literal');
    return t.value;
  });
}

test('every error code has a hint for the app, and no hint names a command-line flag', () => {
  const codes = errorCodes();
  assert.ok(codes.length >= 30, `found the codes (${codes.length})`);
  for (const code of codes) {
    const hint = HINTS[code];
    assert.ok(hint && hint.trim().length > 0, `${code} has a hint`);
    assert.doesNotMatch(hint, /(^|\s)--?[a-z]/i, `${code}'s hint names no CLI flag`);
    assert.doesNotMatch(hint, /\batlas [a-z]+/, `${code}'s hint names no CLI command`);
  }
  for (const code of Object.keys(HINTS)) assert.ok(codes.includes(code), `${code} is a real code`);
  // the wrong ones issue 12 found
  assert.doesNotMatch(hintFor('UNSUPPORTED'), /not in this build/);
  assert.doesNotMatch(hintFor('NOT_FOUND'), /choose the file again/i);
  assert.match(hintFor('NO_PARTITION_TABLE'), /blank/);
  assert.ok(hintFor('SOMETHING_NEW').length > 0, 'an unknown code still gets a sentence');
});

/** Sentences as sets of words, to catch one that says the same in another order ("copy or download"). */
function sentences(text: string): Array<Set<string>> {
  return text
    .split(/(?<=[.:])\s+/)
    .map((s) => new Set(s.toLowerCase().match(/[a-z]+/g) ?? []))
    .filter((words) => words.size > 0);
}

function overlap(a: Set<string>, b: Set<string>): number {
  const shared = [...a].filter((w) => b.has(w)).length;
  return shared / new Set([...a, ...b]).size;
}

test('a hint adds to the engine’s own sentence instead of repeating it (issue 12)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'atlas-hints-'));
  try {
    writeFileSync(join(dir, 'ods-atlas-golden-v8-1-X.img'), 'x');
    const clash = await checkOutput(dir, 'ods-atlas-golden-v8-1-X', '', false).then(
      () => assert.fail('an existing image is a clash'),
      (error: unknown) => (isAtlasError(error) ? error : assert.fail(String(error))),
    );
    const damaged = corruptArchive(
      { path: '/x/a.img.xz', name: 'a.img.xz', fileSize: 10 },
      'xz',
      { bytesProduced: 0, compressedBytesRead: 0 },
      'xz: Compressed data is corrupt',
    );
    for (const error of [clash, damaged]) {
      for (const said of sentences(error.message)) {
        for (const hinted of sentences(hintFor(error.code))) {
          assert.ok(
            overlap(said, hinted) < 0.4,
            `${error.code}: the hint "${hintFor(error.code)}" repeats "${error.message}"`,
          );
        }
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
