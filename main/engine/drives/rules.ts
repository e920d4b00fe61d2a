/**
 * The target rules: ONE function decides whether a drive may be written, used by the UI (to grey out and
 * explain), the CLI (to refuse or ask) and the elevated helper (to refuse, right before opening the device).
 */
import { AtlasError, type AtlasErrorCode } from '../errors';
import { formatBytes } from '../format';
import { listDrives, type Drive, type ListOptions } from './list';

export type TargetReasonCode =
  | 'READ_ONLY'
  | 'VIRTUAL'
  | 'SIZE_UNKNOWN'
  | 'SYSTEM_DISK'
  | 'HOLDS_APP'
  | 'SOURCE_IS_TARGET'
  | 'NOT_REMOVABLE'
  | 'NOT_WHOLE_DISK'
  | 'TARGET_TOO_SMALL'
  | 'LARGE_DRIVE';

export interface TargetReason {
  code: TargetReasonCode;
  /** error: never written; warning: written only after the user confirms again */
  level: 'error' | 'warning';
  message: string;
}

export interface TargetContext {
  /** Bytes the image needs on the card (the uncompressed size), when known. */
  imageSize?: number | null;
}

/** Every reason against writing to `drive`, most serious first; empty when it is a plain safe card. */
export function targetReasons(drive: Drive, context: TargetContext = {}): TargetReason[] {
  const reasons: TargetReason[] = [];
  const error = (code: TargetReasonCode, message: string): void =>
    void reasons.push({ code, level: 'error', message });
  if (drive.holdsRoot) error('SYSTEM_DISK', `${drive.device} is the system disk (it holds /).`);
  else if (drive.system && drive.removable) error('SYSTEM_DISK', `${drive.device} is a system disk.`);
  if (drive.holdsApp) error('HOLDS_APP', `${drive.device} holds Atlas Imager itself.`);
  if (drive.containsSource) error('SOURCE_IS_TARGET', `${drive.device} holds the selected image.`);
  if (drive.virtual) error('VIRTUAL', `${drive.device} is a virtual device (RAM or swap), not a card.`);
  if (!drive.wholeDisk) error('NOT_WHOLE_DISK', `${drive.device} is a partition; pick the whole card.`);
  if (drive.readOnly) {
    error(
      'READ_ONLY',
      `${drive.device} is read-only. If it is an SD card, slide its lock switch to unlocked.`,
    );
  }
  if (drive.size === null || drive.size <= 0)
    error('SIZE_UNKNOWN', `${drive.device} reports no size (no card in the reader?).`);
  // drivelist calls every fixed disk "system"; internal disks are never written, whatever holds them
  if (!drive.removable && !drive.virtual) {
    error(
      'NOT_REMOVABLE',
      `${drive.device} is an internal (non-removable) disk; only removable cards are written.`,
    );
  }
  const need = context.imageSize ?? null;
  if (need !== null && drive.size !== null && drive.size > 0 && need > drive.size) {
    error(
      'TARGET_TOO_SMALL',
      `${drive.device} (${formatBytes(drive.size)}) is smaller than the image (${formatBytes(need)}).`,
    );
  }
  if (drive.large) {
    reasons.push({
      code: 'LARGE_DRIVE',
      level: 'warning',
      message: `${drive.device} is ${formatBytes(drive.size ?? 0)}, larger than a usual SD card. Make sure it is the right drive.`,
    });
  }
  return reasons;
}

/** A drive with no error-level reason: the default drive list shows only these. */
export function isSafeTarget(drive: Drive, context: TargetContext = {}): boolean {
  return targetReasons(drive, context).every((r) => r.level !== 'error');
}

/** What the user confirmed about a target: the helper refuses if the drive no longer matches. */
export interface ConfirmedDrive {
  size: number;
  serial?: string;
}

const ERROR_CODES: Record<TargetReasonCode, AtlasErrorCode> = {
  READ_ONLY: 'READ_ONLY',
  VIRTUAL: 'NOT_REMOVABLE',
  SIZE_UNKNOWN: 'DRIVE_REMOVED',
  SYSTEM_DISK: 'SYSTEM_DISK',
  HOLDS_APP: 'SYSTEM_DISK',
  SOURCE_IS_TARGET: 'SOURCE_IS_TARGET',
  NOT_REMOVABLE: 'NOT_REMOVABLE',
  NOT_WHOLE_DISK: 'NOT_REMOVABLE',
  TARGET_TOO_SMALL: 'TARGET_TOO_SMALL',
  LARGE_DRIVE: 'INTERNAL',
};

/** Throws the first error-level reason as an AtlasError (code per reason); returns the warnings. */
export function assertTarget(drive: Drive, context: TargetContext = {}): TargetReason[] {
  const reasons = targetReasons(drive, context);
  const first = reasons.find((r) => r.level === 'error');
  if (first) {
    throw new AtlasError(ERROR_CODES[first.code], `Refusing to write: ${first.message}`, {
      device: drive.device,
      reason: first.code,
      reasons,
    });
  }
  return reasons.filter((r) => r.level === 'warning');
}

/** Finds a drive by its device or raw path (a symlink to it counts too). */
export function findDrive(drives: readonly Drive[], device: string): Drive | undefined {
  return drives.find((d) => d.device === device || d.raw === device);
}

/**
 * The guard the helper runs right before opening a target for writing: it lists the drives itself (it
 * trusts nothing it was sent), applies the target rules, and checks the drive is still the one the user
 * confirmed (same size, same serial), so a card swapped after confirming is not written.
 */
export async function revalidateTarget(
  device: string,
  confirmed: ConfirmedDrive,
  context: TargetContext & ListOptions = {},
): Promise<Drive> {
  const drives = await listDrives(context);
  const drive = findDrive(drives, device);
  if (!drive) {
    throw new AtlasError(
      'DRIVE_REMOVED',
      `${device} is not among the drives of this machine any more. Was the card removed?`,
      {
        device,
      },
    );
  }
  assertTarget(drive, context);
  if (drive.size !== confirmed.size) {
    throw new AtlasError(
      'DRIVE_CHANGED',
      `${device} is now ${formatBytes(drive.size ?? 0)}, not the ${formatBytes(confirmed.size)} you confirmed. Was the card swapped? Select it again.`,
      { device, size: drive.size, confirmedSize: confirmed.size },
    );
  }
  if ((confirmed.serial ?? null) !== (drive.serial ?? null)) {
    throw new AtlasError(
      'DRIVE_CHANGED',
      `${device} has serial ${drive.serial ?? '(none)'}, not ${confirmed.serial ?? '(none)'} as confirmed. Was the card swapped? Select it again.`,
      { device, serial: drive.serial ?? null, confirmedSerial: confirmed.serial ?? null },
    );
  }
  return drive;
}
