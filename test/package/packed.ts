/**
 * The package a person installs, built here as `npm run dist` builds it (electron-builder.yml, the built out/),
 * but offline: Electron's binary is the stand-in of scripts/electron-standin.mjs. Then app.asar is read into a
 * folder with app.asar.unpacked laid over it, which is the file tree the packed main process sees.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync } from 'node:fs';
import { createRequire, builtinModules } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import * as asar from '@electron/asar';

/** The build folder these tests were compiled into (out/, or ATLAS_OUT). */
export const OUT = resolve(__dirname, '..', '..');
/** The checkout: out/'s parent, or where the tests run from for an ATLAS_OUT build. */
export const ROOT = existsSync(join(OUT, '..', 'electron-builder.yml')) ? resolve(OUT, '..') : process.cwd();

export interface PackedApp {
  /** dist/linux-unpacked: what the deb and the tar.gz hold */
  appDir: string;
  /** the app's executable (the Electron stand-in, renamed and its fuses set by electron-builder) */
  executable: string;
  asar: string;
  /** resources/app.asar.unpacked: the real files beside the archive */
  unpacked: string;
  /** app.asar read into a folder with app.asar.unpacked laid over it: the main process's view */
  extracted: string;
  /** how long electron-builder took, ms */
  buildMs: number;
}

/**
 * Packs the built app into `scratch` with electron-builder. It runs on a copy of the project holding the built
 * out/ (so an ATLAS_OUT build packs too, and the checkout's dist/ is left alone).
 */
export function buildPackage(scratch: string): PackedApp {
  const project = join(scratch, 'project');
  mkdirSync(join(project, 'out'), { recursive: true });
  for (const file of ['package.json', 'electron-builder.yml'])
    copyFileSync(join(ROOT, file), join(project, file));
  symlinkSync(join(ROOT, 'node_modules'), join(project, 'node_modules'), 'dir');
  symlinkSync(join(ROOT, 'resources'), join(project, 'resources'), 'dir');
  symlinkSync(join(ROOT, 'scripts'), join(project, 'scripts'), 'dir');
  for (const part of ['main', 'preload', 'renderer', 'resources', 'native']) {
    cpSync(join(OUT, part), join(project, 'out', part), { recursive: true });
  }
  const standin = join(scratch, 'electron-dist');
  check(
    spawnSync(process.execPath, [join(ROOT, 'scripts', 'electron-standin.mjs'), standin], {
      encoding: 'utf8',
    }),
  );
  const electronVersion = (
    JSON.parse(readFileSync(join(ROOT, 'node_modules', 'electron', 'package.json'), 'utf8')) as {
      version: string;
    }
  ).version;
  const dist = join(scratch, 'dist');
  const started = Date.now();
  check(
    spawnSync(
      process.execPath,
      [
        join(ROOT, 'node_modules', 'electron-builder', 'cli.js'),
        '--linux',
        'dir',
        '--projectDir',
        project,
        `-c.electronDist=${standin}`,
        '-c.npmRebuild=false',
        `-c.electronVersion=${electronVersion}`,
        `-c.directories.output=${dist}`,
      ],
      { encoding: 'utf8' },
    ),
  );
  const buildMs = Date.now() - started;
  const appDir = join(dist, 'linux-unpacked');
  const archive = join(appDir, 'resources', 'app.asar');
  const extracted = join(scratch, 'extracted');
  // extractAll reads the files the header marks unpacked from app.asar.unpacked, as Electron does
  asar.extractAll(archive, extracted);
  return {
    appDir,
    executable: join(appDir, 'atlas-imager'),
    asar: archive,
    unpacked: `${archive}.unpacked`,
    extracted,
    buildMs,
  };
}

function check(r: ReturnType<typeof spawnSync>): void {
  if (r.status !== 0) throw new Error(`${String(r.stdout)}\n${String(r.stderr)}`);
}

/** Every file of the archive, '/'-separated without the leading slash, with whether it is kept unpacked. */
export function archiveFiles(archive: string): Array<{ path: string; size: number; unpacked: boolean }> {
  const files: Array<{ path: string; size: number; unpacked: boolean }> = [];
  const walk = (node: asar.ArchiveHeader['header'], prefix: string): void => {
    for (const [name, entry] of Object.entries((node as { files?: Record<string, unknown> }).files ?? {})) {
      const path = prefix ? `${prefix}/${name}` : name;
      const e = entry as { files?: unknown; size?: number; unpacked?: boolean; link?: string };
      if (e.files) walk(e as asar.ArchiveHeader['header'], path);
      else if (e.link === undefined) files.push({ path, size: e.size ?? 0, unpacked: e.unpacked === true });
    }
  };
  walk(asar.getRawHeader(archive).header, '');
  return files;
}

/** Every file under a folder, relative to it. */
export function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)));
}

/**
 * What a module tree loads, followed from `entries` as Node resolves it: every `require('…')` with a literal
 * name and every `join(__dirname, '…')` path (the engine's worker scripts) must exist inside `root`. Returns
 * one line per miss, naming the file that asks and what it asks for. `provided` are modules the runtime gives.
 */
export function missingLoads(root: string, entries: string[], provided: string[] = []): string[] {
  const missing: string[] = [];
  const seen = new Set<string>();
  const queue = [...entries];
  const inside = (path: string): boolean => path === root || path.startsWith(root + sep);
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file) || !file.endsWith('.js')) continue;
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    const requireOf = createRequire(file);
    for (const [, , name] of text.matchAll(/\brequire\((['"])([^'"]+)\1\)/g)) {
      if (name!.startsWith('node:') || builtinModules.includes(name!) || provided.includes(name!)) continue;
      let target: string;
      try {
        target = requireOf.resolve(name!);
      } catch {
        missing.push(`${relative(root, file)} requires '${name}', which is not in the package`);
        continue;
      }
      if (!inside(target)) missing.push(`${relative(root, file)} requires '${name}' from outside: ${target}`);
      else queue.push(target);
    }
    for (const [, args] of text.matchAll(/join\)\(__dirname,((?:\s*'[^']*',?)+)\)/g)) {
      const parts = [...args!.matchAll(/'([^']*)'/g)].map((m) => m[1]!);
      const target = join(dirname(file), ...parts);
      if (!existsSync(target))
        missing.push(`${relative(root, file)} loads ${relative(root, target)}, which is missing`);
      else queue.push(target);
    }
  }
  return missing;
}
