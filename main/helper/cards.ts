/**
 * The broker's part of a job: each card checked and opened by root, right before the job starts, and the few
 * root-only steps on the cards it opened (eject, growing root). Nothing here opens or creates anything but
 * the card: image files and clone folders are the worker's, as the person.
 *
 * For every card: the drives are listed again and the rules applied (a target: the target rules; a clone
 * source: never the system disk or the disk holding the app), plus the size and serial the person confirmed;
 * the device number is taken from the node; its partitions are unmounted; it is opened (O_DIRECT where the job
 * wants it, /dev/rdiskN on macOS); and the opened descriptor must be that same device number, or nothing is
 * read or written. Exclusivity: on Linux O_EXCL (EBUSY while anything holds the card); macOS ignores O_EXCL
 * without O_CREAT, so there the whole disk is unmounted (`diskutil unmountDisk`) right before opening and the
 * job keeps the descriptor open from its first write to its last read-back, then ejects it (drives/eject.ts).
 */
import { constants, promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { AtlasError, toAtlasError } from '../engine/errors';
import {
  ejectDrive,
  findDrive,
  listDrives,
  resizeExt4,
  revalidateTarget,
  unmountDrive,
  type Drive,
} from '../engine/drives/index';
import { assertNotMounted, unmountAll } from '../engine/drives/mounts';
import { logicalSectorSize } from '../engine/io/direct';
import type { JobControl } from '../engine/progress';
import type { CardRequest } from './registry';
import type { InheritedCard, RootStep } from './protocol';
import { trustedTool } from './trusted-tools';

/** A card root opened for this job. */
export interface OpenedCard {
  request: CardRequest;
  drive: Drive;
  handle: FileHandle;
  /** the device number checked before opening, which the descriptor was found to have */
  rdev: number;
  facts: Omit<InheritedCard, 'fd'>;
}

export async function openCard(request: CardRequest): Promise<OpenedCard> {
  const { device } = request;
  const drive =
    request.role === 'target'
      ? await revalidateTarget(device, request.confirmed, {
          ...(request.sourcePath ? { sourcePath: request.sourcePath } : {}),
        })
      : await checkCloneSource(device, request);
  // macOS: the raw node bypasses the buffer cache, many times faster than /dev/diskN, for every job
  const path = process.platform === 'darwin' ? drive.raw : device;
  const rdev = await deviceNumber(path);
  if (request.role === 'target') await unmountDrive(drive);
  else if (request.unmount) await unmountAll(device, { role: 'source' });
  else await assertNotMounted(device, { unmount: false, role: 'source' });
  const write = request.role === 'target';
  const { handle, direct } = await openExpected(path, rdev, { write, direct: request.direct });
  try {
    // the listing's (drivelist, diskutil on macOS): a raw node's fstat says nothing about its sectors
    const sectorSize = drive.blockSize ?? (await logicalSectorSize(path));
    return {
      request,
      drive,
      handle,
      rdev,
      facts: {
        path: device,
        write,
        direct,
        size: drive.size!,
        sectorSize,
        isBlockDevice: true,
        description: drive.description,
        ...(drive.serial ? { serial: drive.serial } : {}),
      },
    };
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/**
 * A clone source is only read, but root reads it and unmounts it: only a whole removable card, never the
 * machine's own disk or the one holding the app (whose filesystems are never unmounted).
 */
async function checkCloneSource(device: string, request: CardRequest): Promise<Drive> {
  const drive = findDrive(await listDrives(), device);
  if (!drive) {
    throw new AtlasError(
      'DRIVE_REMOVED',
      `${device} is not among the drives any more. Was the card removed?`,
      {
        device,
      },
    );
  }
  if (drive.holdsRoot || drive.holdsApp) {
    throw new AtlasError(
      'SYSTEM_DISK',
      `Refusing to clone ${device}: it ${drive.holdsRoot ? 'is the system disk (it holds /)' : 'holds Atlas Imager itself'}.`,
      { device },
    );
  }
  if (!drive.wholeDisk || drive.virtual || !drive.removable) {
    throw new AtlasError(
      'NOT_REMOVABLE',
      `Refusing to clone ${device}: only whole removable cards are cloned, and it is ${drive.wholeDisk ? 'an internal disk' : 'a partition'}.`,
      { device },
    );
  }
  if (
    drive.size !== request.confirmed.size ||
    (drive.serial ?? null) !== (request.confirmed.serial ?? null)
  ) {
    throw new AtlasError(
      'DRIVE_CHANGED',
      `${device} is not the card you confirmed (size or serial differ). Select it again.`,
      { device },
    );
  }
  return drive;
}

/** The device number of the node at `path`, which must be a disk (a block device; the raw node on macOS). */
export async function deviceNumber(path: string): Promise<number> {
  const st = await fsp.stat(path).catch((error: unknown) => {
    throw toAtlasError(error, `Cannot open ${path}`);
  });
  if (!isDiskNode(st)) throw new AtlasError('NOT_REMOVABLE', `${path} is not a disk.`, { device: path });
  return st.rdev;
}

function isDiskNode(st: { isBlockDevice(): boolean; isCharacterDevice(): boolean }): boolean {
  return process.platform === 'darwin' ? st.isCharacterDevice() : st.isBlockDevice();
}

/**
 * Opens `path` and checks the descriptor is the device numbered `rdev`: a node swapped between the check and
 * the open (a symlink re-pointed, a card replaced) is closed again untouched.
 */
export async function openExpected(
  path: string,
  rdev: number,
  how: { write: boolean; direct: boolean },
): Promise<{ handle: FileHandle; direct: boolean }> {
  // O_EXCL means something on a Linux block device only (see the top of this file for macOS)
  const exclusive = process.platform === 'linux' ? constants.O_EXCL : 0;
  const flags = (how.write ? constants.O_RDWR : constants.O_RDONLY) | exclusive;
  const wantDirect = how.direct && typeof constants.O_DIRECT === 'number';
  let handle: FileHandle | null = null;
  let direct = false;
  try {
    if (wantDirect) {
      handle = await fsp.open(path, flags | constants.O_DIRECT).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'EINVAL') return null;
        throw error;
      });
      direct = handle !== null;
    }
    handle ??= await fsp.open(path, flags);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EBUSY') {
      throw new AtlasError(
        'TARGET_MOUNTED',
        `${path} is in use (mounted, or opened by another program). Unmount it and close other imaging tools.`,
        { device: path },
      );
    }
    throw toAtlasError(error, `Cannot open ${path}`);
  }
  const st = await handle.stat();
  if (!isDiskNode(st) || st.rdev !== rdev) {
    await handle.close();
    throw new AtlasError(
      'DRIVE_CHANGED',
      `${path} changed between checking and opening it (another device is there now). Nothing was written; select the card again.`,
      { device: path },
    );
  }
  return { handle, direct };
}

/** Runs a root-only step the worker asked for, on a card opened for this job (never on any other path). */
export async function runRootStep(
  step: RootStep,
  cards: readonly OpenedCard[],
  control: JobControl,
): Promise<unknown> {
  const card = cards.find((c) => c.facts.path === step.path && c.facts.write);
  if (!card) {
    throw new AtlasError('PERMISSION_DENIED', `${step.path} is not a card this job writes.`);
  }
  if (step.step === 'eject') return ejectCard(card);
  if (process.platform !== 'linux') return false;
  if (!(
    Number.isSafeInteger(step.offset) &&
    Number.isSafeInteger(step.size) &&
    step.offset >= 0 &&
    step.size > 0
  ))
    throw new AtlasError('INVALID_ARGUMENT', 'The root partition to grow is not a byte range.');
  if (step.offset + step.size > card.facts.size)
    throw new AtlasError('INVALID_ARGUMENT', 'The root partition to grow lies past the end of the card.');
  let tool: (name: string) => string;
  try {
    const tools = new Map(['losetup', 'e2fsck', 'resize2fs'].map((n) => [n, trustedTool(n)]));
    tool = (name) => tools.get(name)!;
  } catch {
    return false; // not installed where root may run it: grown at first boot instead
  }
  // losetup gets our own descriptor through /proc, not the path: the very device that was checked
  await resizeExt4(`/proc/${process.pid}/fd/${card.handle.fd}`, step.offset, step.size, control, tool);
  return true;
}

/** Ejects a card once the job is done with it; its node must still be the device that was opened. */
async function ejectCard(card: OpenedCard): Promise<boolean> {
  const path = process.platform === 'darwin' ? card.drive.raw : card.facts.path;
  await card.handle.close().catch(() => undefined);
  if ((await deviceNumber(path).catch(() => null)) !== card.rdev) return false;
  return ejectDrive(process.platform === 'darwin' ? card.drive.device : card.facts.path, {
    tool: (name) => {
      try {
        return trustedTool(name);
      } catch {
        return null;
      }
    },
  });
}
