/** The project's source tree, for tests that read the sources themselves (what a job emits, what a page shows). */
import { existsSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/** The checkout: the build's parent, or (a build elsewhere, ATLAS_OUT) where its node_modules link points. */
export function sourceRoot(): string {
  const out = resolve(__dirname, '..', '..');
  const link = join(out, 'node_modules');
  return existsSync(link) ? dirname(resolve(out, readlinkSync(link))) : dirname(out);
}

/** Every file under `dir` (relative to the checkout) whose name ends with one of `extensions`, with its text. */
export function sourceFiles(dir: string, extensions: string[]): Array<{ path: string; text: string }> {
  const walk = (abs: string): string[] =>
    readdirSync(abs).flatMap((name) => {
      const path = join(abs, name);
      return statSync(path).isDirectory() ? walk(path) : [path];
    });
  return walk(join(sourceRoot(), dir))
    .filter((path) => extensions.some((e) => path.endsWith(e)))
    .map((path) => ({ path, text: readFileSync(path, 'utf8') }));
}
