// Builds the project's Node-API addon (native/atlas-io, see main/engine/io/cache.ts) with node-gyp and puts it
// beside the compiled engine: <out>/native/atlas_io.node. Rebuilt only when its sources are newer than the last
// build. Node-API is ABI-stable, so one build serves Node (tests, CLI) and Electron alike.
//
//   node scripts/build-native.mjs <out> [--arch x64|arm64]
//
// Headers: $npm_config_nodedir, else /usr where Debian's Node installs them (no network for node-gyp to fetch
// them, as for drivelist at `npm ci`). --arch is for the macOS packages: electron-builder's beforePack
// (scripts/before-pack.cjs) builds the arch it packs; clang builds either on any Mac.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { resolve } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const dir = `${root}native/atlas-io`;

export function buildNative(out, arch = process.arch) {
  // another arch builds in a copy of the sources, so packing one does not overwrite the build the tests use
  const src = arch === process.arch ? dir : `${dir}/arch-${arch}`;
  const sources = ['atlas_io.c', 'xxh3.c', 'xxh3.h', 'crc32.c', 'crc32.h', 'binding.gyp'];
  if (src !== dir) {
    mkdirSync(src, { recursive: true });
    for (const f of sources) copyFileSync(`${dir}/${f}`, `${src}/${f}`);
  }
  const product = `${src}/build/Release/atlas_io.node`;
  const newest = Math.max(...sources.map((f) => statSync(`${dir}/${f}`).mtimeMs));
  if (!existsSync(product) || statSync(product).mtimeMs < newest) {
    const nodedir =
      process.env.npm_config_nodedir ?? (existsSync('/usr/include/node/node_api.h') ? '/usr' : undefined);
    execFileSync(
      process.execPath,
      [
        `${root}node_modules/node-gyp/bin/node-gyp.js`,
        'rebuild',
        `--arch=${arch}`,
        ...(nodedir ? [`--nodedir=${nodedir}`] : []),
        '--loglevel=error',
      ],
      { cwd: src, stdio: ['ignore', 'ignore', 'inherit'] },
    );
  }
  mkdirSync(`${out}/native`, { recursive: true });
  copyFileSync(product, `${out}/native/atlas_io.node`);
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname)) {
  const [out, flag, arch] = process.argv.slice(2);
  if (!out || (flag !== undefined && flag !== '--arch')) {
    console.error('usage: node scripts/build-native.mjs <out> [--arch x64|arm64]');
    process.exit(2);
  }
  buildNative(resolve(out), arch);
}
