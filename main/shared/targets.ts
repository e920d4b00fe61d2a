/**
 * The target rules: ONE pure function decides whether a drive may be written (or read as a clone source). The
 * renderer greys out and labels drives with it, main refuses a request with it, the CLI and the elevated helper
 * refuse with it right before opening the device (engine/drives/rules.ts wraps it in AtlasErrors). Pure: no
 * Node, no DOM.
 */
import { formatBytes } from './format';

/**
 * The facts the rules read. The contract's Drive has every required one; the engine's drive record also has
 * the finer optional ones (the contract folds them into `system` and `removable`), which only sharpen the
 * reason given, never turn a refusal into a permission.
 */
export interface TargetFacts {
  device: string;
  /** bytes, null when the OS does not know (an empty reader) */
  size: number | null;
  mountpoints: readonly string[];
  removable: boolean;
  /** the system disk, or (drivelist's sense) any fixed disk */
  system: boolean;
  virtual: boolean;
  readOnly: boolean;
  large: boolean;
  /** false for a partition */
  wholeDisk?: boolean;
  holdsRoot?: boolean;
  holdsApp?: boolean;
  /** found by device number by the engine; the rules also look for `sourcePath` under the mountpoints */
  containsSource?: boolean;
}

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
  /** error: never used; warning: used only after the user confirms again */
  level: 'error' | 'warning';
  message: string;
}

export interface TargetContext {
  /** Bytes the image needs on the card (the uncompressed size), when known. */
  imageSize?: number | null | undefined;
  /** The image or clone folder to be written: a drive with it under a mountpoint is refused. */
  sourcePath?: string | null | undefined;
  /** what the person calls it (the image's file name, the clone folder's name), for messages */
  sourceName?: string | null | undefined;
}

/** 'write': a flash or restore target; 'read': a clone source. */
export type DriveUse = 'read' | 'write';

/** The short badge the drive list shows for each reason. */
export const REASON_LABELS: Record<TargetReasonCode, string> = {
  READ_ONLY: 'Locked (read-only)',
  VIRTUAL: 'Virtual disk',
  SIZE_UNKNOWN: 'No card (size unknown)',
  SYSTEM_DISK: 'System disk',
  HOLDS_APP: 'Holds Atlas Imager',
  SOURCE_IS_TARGET: 'Holds the image',
  NOT_REMOVABLE: 'Not removable',
  NOT_WHOLE_DISK: 'A partition, not a whole card',
  TARGET_TOO_SMALL: 'Too small',
  LARGE_DRIVE: 'Large drive (over 128 GB)',
};

/** Every reason against using `drive` for `use`, most serious first; empty for a plain card. */
export function driveReasons(drive: TargetFacts, use: DriveUse, context: TargetContext = {}): TargetReason[] {
  return use === 'write' ? targetReasons(drive, context) : sourceReasons(drive);
}

/** Every reason against writing to `drive`, most serious first; empty when it is a plain safe card. */
export function targetReasons(drive: TargetFacts, context: TargetContext = {}): TargetReason[] {
  const reasons: TargetReason[] = [];
  const error = (code: TargetReasonCode, message: string): void =>
    void reasons.push({ code, level: 'error', message });
  const d = drive.device;
  // the engine's record says whether the disk holds /; drivelist calls every fixed disk "system", so there
  // only a removable one counts as such. The contract's `system` already means the disk holds / or the app.
  if (drive.holdsRoot) error('SYSTEM_DISK', `${d} is the system disk (it holds /).`);
  else if (drive.system && (drive.removable || drive.holdsRoot === undefined))
    error('SYSTEM_DISK', `${d} is a system disk.`);
  if (drive.holdsApp) error('HOLDS_APP', `${d} holds Atlas Imager itself.`);
  if (drive.containsSource || holdsPath(drive, context.sourcePath))
    error('SOURCE_IS_TARGET', `${d} holds the image or clone folder to be written. Copy it elsewhere first.`);
  if (drive.virtual) error('VIRTUAL', `${d} is a virtual device (RAM or swap), not a card.`);
  if (drive.wholeDisk === false) error('NOT_WHOLE_DISK', `${d} is a partition; pick the whole card.`);
  if (drive.readOnly)
    error('READ_ONLY', `${d} is read-only. If it is an SD card, slide its lock switch to unlocked.`);
  if (!hasSize(drive)) error('SIZE_UNKNOWN', `${d} reports no size (no card in the reader?).`);
  // drivelist calls every fixed disk "system": internal disks are never written, whatever holds them
  if (!drive.removable && !drive.virtual)
    error('NOT_REMOVABLE', `${d} is an internal (non-removable) disk; only removable cards are written.`);
  const need = context.imageSize ?? null;
  if (need !== null && hasSize(drive) && need > drive.size) {
    error(
      'TARGET_TOO_SMALL',
      `${d} holds ${formatBytes(drive.size)}; ${context.sourceName ?? 'the image'} needs ${formatBytes(need)}.`,
    );
  }
  if (drive.large) reasons.push(largeDrive(drive));
  return reasons;
}

/** Reasons about a clone source: it must hold a card; the system disk and a large drive are worth a look. */
export function sourceReasons(drive: TargetFacts): TargetReason[] {
  const reasons: TargetReason[] = [];
  if (!hasSize(drive)) {
    reasons.push({
      code: 'SIZE_UNKNOWN',
      level: 'error',
      message: `${drive.device} reports no size (no card in the reader?).`,
    });
  }
  if (drive.system || drive.holdsRoot || drive.holdsApp) {
    reasons.push({
      code: 'SYSTEM_DISK',
      level: 'warning',
      message: `${drive.device} is a system disk, not a kiosk's card.`,
    });
  }
  if (drive.large) reasons.push(largeDrive(drive));
  return reasons;
}

/** A drive with no error-level reason: the default drive list shows only these. */
export function isSafeTarget(drive: TargetFacts, context: TargetContext = {}): boolean {
  return targetReasons(drive, context).every((r) => r.level !== 'error');
}

/**
 * Whether `path` lies inside the folder `mountpoint`, the one containment rule (a drive mounted at /media/a
 * holds /media/a/x.img, not /media/ab/x.img). Both are absolute; `.` and `..` segments are resolved first.
 */
export function isInside(path: string, mountpoint: string): boolean {
  const p = segments(path);
  const m = segments(mountpoint);
  return m.length <= p.length && m.every((s, i) => s === p[i]);
}

function holdsPath(drive: TargetFacts, path: string | null | undefined): boolean {
  return !!path && drive.mountpoints.some((m) => isInside(path, m));
}

function hasSize(drive: TargetFacts): drive is TargetFacts & { size: number } {
  return drive.size !== null && drive.size > 0;
}

function largeDrive(drive: TargetFacts): TargetReason {
  return {
    code: 'LARGE_DRIVE',
    level: 'warning',
    message: `${drive.device} is ${formatBytes(drive.size ?? 0)}, larger than a usual SD card. Make sure it is the right drive.`,
  };
}

/** An absolute path's segments with '', '.' and '..' resolved (no file system access). */
function segments(path: string): string[] {
  const out: string[] = [];
  for (const s of path.split('/')) {
    if (s === '' || s === '.') continue;
    if (s === '..') out.pop();
    else out.push(s);
  }
  return out;
}
