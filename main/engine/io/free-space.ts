/** Free space checks before writing large outputs (golden images, vault copies). */
import { promises as fsp } from 'node:fs';

/** Bytes an unprivileged writer may still use on the filesystem that holds `folder`. */
export async function freeSpace(folder: string): Promise<number> {
  const s = await fsp.statfs(folder);
  return Number(s.bavail) * Number(s.bsize);
}
