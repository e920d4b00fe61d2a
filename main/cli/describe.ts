/** What the CLI says about a card or an image file in confirmations and manifests. */
import { promises as fsp } from 'node:fs';
import { formatBytes } from '../engine/format';
import { listDrives } from '../engine/drives/list';

async function driveOf(path: string) {
  const st = await fsp.stat(path).catch(() => null);
  if (!st?.isBlockDevice()) return { st, drive: undefined };
  const real = await fsp.realpath(path);
  const drives = await listDrives().catch(() => []);
  return { st, drive: drives.find((d) => d.device === path || d.device === real) };
}

/** Model and serial of a card for the clone manifest; undefined for image files or unknown drives. */
export async function describeSource(path: string): Promise<{ model?: string; serial?: string } | undefined> {
  const { drive } = await driveOf(path);
  if (!drive) return undefined;
  return { model: drive.description, ...(drive.serial ? { serial: drive.serial } : {}) };
}

/** "/dev/sdc (SanDisk Ultra, 31.9 GB)" or "the image file x.img (1.0 GiB)". */
export async function describeTarget(path: string): Promise<string> {
  const { st, drive } = await driveOf(path);
  if (drive) return `${path} (${drive.description}${drive.size ? `, ${formatBytes(drive.size)}` : ''})`;
  if (st?.isFile()) return `the image file ${path} (${formatBytes(st.size)})`;
  return path;
}
