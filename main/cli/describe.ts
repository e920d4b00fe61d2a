/**
 * Cards and image files as the CLI tells them apart: a device goes through the drive list (and then the
 * root broker, with the app's rules); an image file is the person's own and is used in-process.
 */
import { promises as fsp } from 'node:fs';
import { AtlasError } from '../engine/errors';
import { formatBytes } from '../engine/format';
import { findDrive, listDrives, type Drive } from '../engine/drives/index';
import type { LoggedCard } from '../engine/library/job-log';

/** The drive at `path` when it is a disk (a block device; /dev/rdiskN is a character device on macOS), else null. */
export async function cardAt(path: string): Promise<Drive | null> {
  const st = await fsp.stat(path).catch(() => null);
  if (!st || !(st.isBlockDevice() || st.isCharacterDevice())) return null;
  const real = await fsp.realpath(path);
  const drives = await listDrives();
  const drive = findDrive(drives, path) ?? findDrive(drives, real);
  if (!drive) {
    throw new AtlasError(
      'NOT_FOUND',
      `${path} is not a drive on this machine. Run "atlas drives --all" to see them.`,
      { device: path },
    );
  }
  return drive;
}

/** What the broker checks the card against: the size and serial the person saw. */
export function confirmedOf(drive: Drive): { size: number; serial?: string } {
  if (drive.size === null || drive.size <= 0) {
    throw new AtlasError('DRIVE_REMOVED', `${drive.device} reports no size: is a card in the reader?`);
  }
  return { size: drive.size, ...(drive.serial ? { serial: drive.serial } : {}) };
}

/** "/dev/sdc (SanDisk Ultra, 31.9 GB)" or "the image file x.img (1.0 GiB)". */
export async function describeTarget(path: string, drive: Drive | null): Promise<string> {
  if (drive) return `${path} (${drive.description}${drive.size ? `, ${formatBytes(drive.size)}` : ''})`;
  const st = await fsp.stat(path).catch(() => null);
  if (st?.isFile()) return `the image file ${path} (${formatBytes(st.size)})`;
  return path;
}

/** A card as the job log and the deployment record keep it; an image file by its path, model "image file". */
export async function recordedCard(device: string, path: string, drive: Drive | null): Promise<LoggedCard> {
  if (drive) return { device, model: drive.description, serial: drive.serial ?? null, size: drive.size };
  const st = await fsp.stat(path).catch(() => null);
  return { device, model: 'image file', serial: null, size: st?.size ?? null };
}
