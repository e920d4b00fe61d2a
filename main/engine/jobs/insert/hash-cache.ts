/**
 * Remembers the sha256 of large input files (base images), so building several golden images from one base
 * hashes it once. An entry is trusted only while the file keeps its device, inode, size, mtime and ctime
 * (nanoseconds): any write to the file changes its ctime, which the writer cannot set back.
 */
import { randomUUID } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';

const CACHE_FILE = 'sha256-cache.json';
const MAX_ENTRIES = 64;

interface CacheEntry {
  key: string;
  sha256: string;
  /** ISO time of the hash, for pruning */
  at: string;
}

interface CacheFile {
  version: 1;
  entries: Record<string, CacheEntry>;
}

async function identity(path: string): Promise<{ real: string; key: string }> {
  const real = await fsp.realpath(path);
  const st = await fsp.stat(real, { bigint: true });
  return { real, key: `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}` };
}

async function load(dir: string): Promise<CacheFile> {
  try {
    const parsed = JSON.parse(await fsp.readFile(join(dir, CACHE_FILE), 'utf8')) as CacheFile;
    if (parsed.version === 1 && parsed.entries && typeof parsed.entries === 'object') return parsed;
  } catch {
    // missing or damaged: start afresh, the cache only ever saves time
  }
  return { version: 1, entries: {} };
}

/** Hashes running in this process, by cache, file and identity: a second caller joins the first. */
const running = new Map<string, Promise<string>>();

/**
 * The sha256 of `path`, from `cacheDir` when the file is unchanged since it was hashed, else from `compute`
 * (whose result is then stored). A cache that cannot be written is ignored. While this process is already
 * hashing the same unchanged file for the same cache (the app starts as soon as a base is chosen), the call
 * waits for that hash instead of reading the file a second time; if that one fails or is cancelled, it
 * computes its own.
 */
export async function cachedSha256(
  path: string,
  cacheDir: string,
  compute: () => Promise<string>,
): Promise<{ sha256: string; cached: boolean }> {
  const before = await identity(path);
  const cache = await load(cacheDir);
  const hit = cache.entries[before.real];
  if (hit && hit.key === before.key && /^[0-9a-f]{64}$/.test(hit.sha256))
    return { sha256: hit.sha256, cached: true };
  const runKey = `${cacheDir}\0${before.real}\0${before.key}`;
  const other = running.get(runKey);
  if (other) {
    const joined = await other.catch(() => null);
    if (joined !== null) return { sha256: joined, cached: true };
  }
  const computing = compute();
  running.set(runKey, computing);
  let sha256: string;
  try {
    sha256 = await computing;
  } finally {
    if (running.get(runKey) === computing) running.delete(runKey);
  }
  // a file that changed while it was being hashed is not remembered
  const after = await identity(path);
  if (after.key !== before.key) return { sha256, cached: false };
  const fresh = await load(cacheDir);
  fresh.entries[before.real] = { key: before.key, sha256, at: new Date().toISOString() };
  const kept = Object.entries(fresh.entries)
    .sort(([, a], [, b]) => b.at.localeCompare(a.at))
    .slice(0, MAX_ENTRIES);
  fresh.entries = Object.fromEntries(kept);
  try {
    await fsp.mkdir(cacheDir, { recursive: true });
    // unique per write: the app may finish hashing two bases at once (one chosen ahead, one being inserted)
    const tmp = join(cacheDir, `${CACHE_FILE}.${process.pid}.${randomUUID()}.partial`);
    await fsp.writeFile(tmp, `${JSON.stringify(fresh, null, 2)}\n`);
    await fsp.rename(tmp, join(cacheDir, CACHE_FILE));
  } catch {
    // read-only or full build folder: hashing again next time is the only cost
  }
  return { sha256, cached: false };
}
