/**
 * Making outputs durable before they are named complete: a file's data is synced before its `*.partial` is
 * renamed, and the folder after the rename, so a power cut never leaves a complete-looking name on lost data.
 */
import { promises as fsp } from 'node:fs';
import { fullSync, syncPlan } from './cache';

/**
 * Writes the file's data to the disk, what a rename into place must wait for: fdatasync on Linux, F_FULLFSYNC on
 * macOS (whose fsync leaves the data in the drive's cache; io/cache.ts).
 */
export async function syncFile(path: string): Promise<void> {
  // a read-only descriptor is enough to sync, so a file we may not write (0444) is synced too
  const handle = await fsp.open(path, 'r');
  try {
    if (syncPlan(process.platform) === 'f_fullfsync') await fullSync(handle);
    else await handle.datasync();
  } finally {
    await handle.close();
  }
}

/** Makes renames in `dir` durable; not every platform lets a folder be fsynced, which is fine. */
export async function syncDir(dir: string): Promise<void> {
  const handle = await fsp.open(dir, 'r').catch(() => null);
  await handle?.sync().catch(() => undefined);
  await handle?.close();
}
