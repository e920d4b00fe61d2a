// Builds everything into out/: main, CLI, helper, tests and benches with tsc (CommonJS, plain Node);
// the sandboxed preload and the renderer with esbuild (a single bundle each).
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, rmSync, chmodSync, symlinkSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { build } from 'esbuild';
import { buildNative } from './build-native.mjs';

const root = new URL('..', import.meta.url).pathname;
// ATLAS_OUT lets several builds coexist (one per developer task); the app and the CLI use out/.
const out = process.env.ATLAS_OUT ? resolve(process.env.ATLAS_OUT) : `${root}out`;
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
// a build outside the checkout still resolves the project's packages (the CLI and tests spawn it by path)
if (!out.startsWith(root)) symlinkSync(`${root}node_modules`, `${out}/node_modules`, 'dir');

// Type errors fail the build: the engine, the renderer and the preload are each checked in their own runtime.
for (const project of ['tsconfig.json', 'renderer/tsconfig.json', 'preload/tsconfig.json']) {
  const outDir = project === 'tsconfig.json' ? ['--outDir', out] : [];
  try {
    execFileSync(
      process.execPath,
      [`${root}node_modules/typescript/bin/tsc`, '-p', `${root}${project}`, ...outDir],
      {
        stdio: 'inherit',
      },
    );
  } catch {
    console.error(`build: type errors in ${project}`);
    process.exit(1);
  }
}

// The preload runs in a sandboxed renderer: one CommonJS file, `electron` provided by the runtime.
await build({
  entryPoints: [`${root}preload/index.ts`],
  outfile: `${out}/preload/index.js`,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'es2022',
  external: ['electron'],
  logLevel: 'warning',
});

await build({
  entryPoints: [`${root}renderer/src/main.tsx`],
  outfile: `${out}/renderer/app.js`,
  bundle: true,
  platform: 'browser',
  format: 'esm',
  target: 'es2022',
  jsx: 'automatic',
  loader: { '.css': 'css', '.svg': 'dataurl', '.png': 'dataurl' },
  define: { 'process.env.NODE_ENV': '"production"' },
  minify: true,
  sourcemap: true,
  logLevel: 'warning',
});
mkdirSync(`${out}/renderer`, { recursive: true });
// one Content-Security-Policy: the one main/shared/renderer-policy.ts gives the app's protocol handler
const policy = createRequire(import.meta.url)(`${out}/main/shared/renderer-policy.js`);
writeFileSync(
  `${out}/renderer/index.html`,
  policy.withPolicy(
    readFileSync(`${root}renderer/index.html`, 'utf8'),
    policy.contentSecurityPolicy({ meta: true }),
  ),
);
// the engine's Node-API addon (main/engine/io/cache.ts), beside it in out/native
buildNative(out);
// templates the engine reads at run time travel with the build (and so into the packaged app)
cpSync(`${root}resources`, `${out}/resources`, { recursive: true });
// the version beside the engine that reports it (main/engine/version.ts): package.json is not packed beside it
const { version } = JSON.parse(readFileSync(`${root}package.json`, 'utf8'));
writeFileSync(`${out}/main/engine/version.json`, `${JSON.stringify({ version })}\n`);
chmodSync(`${root}bin/atlas.js`, 0o755);
console.log('build: ok');
