/**
 * The target rules as the engine, the CLI and the elevated helper apply them: the one pure rule lives in
 * main/shared/targets.ts (the renderer and main's handlers use it too); here it becomes AtlasErrors, and the
 * helper's last check lists the drives itself right before opening a device.
 */
import type { AtlasErrorCode } from '../../contract';
import { AtlasError } from '../errors';
import { formatBytes } from '../format';
import {
  isSafeTarget,
  targetReasons,
  type TargetContext,
  type TargetFacts,
  type TargetReason,
  type TargetReasonCode,
} from '../../shared/targets';
import { listDrives, type Drive, type ListOptions } from './list';

export { isSafeTarget, targetReasons };
export type { TargetContext, TargetFacts, TargetReason, TargetReasonCode };

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
export function assertTarget(drive: TargetFacts, context: TargetContext = {}): TargetReason[] {
  return assertReasons(drive.device, targetReasons(drive, context), 'Refusing to write');
}

/** Throws the first error-level reason of `reasons` about `device`; returns the warnings. */
export function assertReasons(device: string, reasons: TargetReason[], prefix: string): TargetReason[] {
  const first = reasons.find((r) => r.level === 'error');
  if (first) {
    throw new AtlasError(ERROR_CODES[first.code], `${prefix}: ${first.message}`, {
      device,
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
