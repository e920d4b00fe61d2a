/**
 * The Library page's listing: Phase 0 golden images and Phase 1 clone folders in the build folder and the vault.
 * Reads names, sizes and manifests only; never opens an image's content.
 */
import { promises as fsp, type Stats } from 'node:fs';
import { join } from 'node:path';
import type { LibraryEntry, LibraryListing, LibraryLocation, Settings } from '../contract';
import { CLONE_FOLDER_PATTERN, GOLDEN_IMAGE_PATTERN } from '../shared/names';

const CLONE_MANIFEST = 'atlas-manifest.json';

export async function listLibrary(settings: Settings): Promise<LibraryListing> {
  const listing: LibraryListing = { entries: [], unavailable: [] };
  const seen = new Set<string>();
  for (const [location, folder] of [
    ['build', settings.buildFolder],
    ['vault', settings.vaultFolder],
  ] as Array<[LibraryLocation, string]>) {
    if (seen.has(folder)) continue;
    seen.add(folder);
    let names: string[];
    try {
      names = await fsp.readdir(folder);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const reason =
        code === 'ENOENT' ? 'not found (is the disk plugged in?)' : `cannot be read (${code ?? 'error'})`;
      listing.unavailable.push({ location, path: folder, reason });
      continue;
    }
    for (const name of names.sort()) {
      const entry = await describe(join(folder, name), name, location).catch(() => null);
      if (entry) listing.entries.push(entry);
    }
  }
  listing.entries.sort((a, b) => b.created.localeCompare(a.created));
  return listing;
}

async function describe(path: string, name: string, location: LibraryLocation): Promise<LibraryEntry | null> {
  const stat = await fsp.stat(path);
  const golden = GOLDEN_IMAGE_PATTERN.exec(name);
  if (golden && stat.isFile()) {
    const manifest = await readSidecar(path);
    return {
      kind: 'golden-image',
      phase: 0,
      name,
      path,
      location,
      tag: golden[3]!,
      created: manifestDate(manifest) ?? stat.mtime.toISOString(),
      size: stat.size,
      hasManifest: manifest !== null,
    };
  }
  const clone = CLONE_FOLDER_PATTERN.exec(name);
  if (clone && stat.isDirectory() && !name.endsWith('.partial')) {
    const manifest = await readJson(join(path, CLONE_MANIFEST));
    return {
      kind: 'clone-folder',
      phase: 1,
      name,
      path,
      location,
      tag: typeof manifest?.tag === 'string' ? manifest.tag : clone[1]!,
      created: manifestDate(manifest) ?? stat.mtime.toISOString(),
      size: await folderSize(path),
      hasManifest: manifest !== null,
    };
  }
  return null;
}

/** The Insert job writes its manifest beside the image; accept the two usual sidecar spellings. */
async function readSidecar(imagePath: string): Promise<Record<string, unknown> | null> {
  const stem = imagePath.replace(/\.img$/, '');
  for (const candidate of [`${imagePath}.json`, `${stem}.manifest.json`, `${stem}.json`]) {
    const json = await readJson(candidate);
    if (json) return json;
  }
  return null;
}

async function readJson(path: string): Promise<Record<string, unknown> | null> {
  try {
    const value: unknown = JSON.parse(await fsp.readFile(path, 'utf8'));
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

function manifestDate(manifest: Record<string, unknown> | null): string | null {
  const created = manifest?.created;
  return typeof created === 'string' && !Number.isNaN(Date.parse(created))
    ? new Date(created).toISOString()
    : null;
}

async function folderSize(folder: string): Promise<number> {
  let total = 0;
  for (const name of await fsp.readdir(folder)) {
    const s: Stats = await fsp.stat(join(folder, name));
    if (s.isFile()) total += s.size;
  }
  return total;
}
