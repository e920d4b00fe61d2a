/**
 * Files the engine reads at run time (templates). The build copies resources/ into its output folder, so they
 * are found beside the compiled engine (out/resources) in a checkout, in any ATLAS_OUT build and in the package
 * (electron-builder.yml packs out/resources and unpacks it with the engine).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export function resourcePath(name: string): string {
  return join(__dirname, '..', '..', 'resources', name);
}

export function readResource(name: string): string {
  return readFileSync(resourcePath(name), 'utf8');
}

/**
 * The real path of a file that the package keeps outside Electron's archive (electron-builder's asarUnpack):
 * `…/resources/app.asar/out/main/helper/main.js` → `…/resources/app.asar.unpacked/out/main/helper/main.js`.
 * A process that cannot read inside app.asar (the root helper started as a plain script) must be given this
 * path. Outside a package the path is returned unchanged.
 */
export function unpackedPath(path: string): string {
  return path.replace(/([\\/])app\.asar(?=[\\/])/, '$1app.asar.unpacked');
}
