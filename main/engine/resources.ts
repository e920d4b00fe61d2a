/**
 * Files shipped in resources/ (templates). The build copies resources/ into its output folder, so they are
 * found beside the compiled engine (out/resources) in a checkout, in a package and in any ATLAS_OUT build.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export function resourcePath(name: string): string {
  return join(__dirname, '..', '..', 'resources', name);
}

export function readResource(name: string): string {
  return readFileSync(resourcePath(name), 'utf8');
}
