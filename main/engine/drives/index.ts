/** Drives: listing, the target rules, hot-plug watching, unmount and eject. */
export { listDrives, LARGE_DRIVE_BYTES, type Drive, type Partition, type ListOptions } from './list';
export {
  targetReasons,
  isSafeTarget,
  assertTarget,
  findDrive,
  revalidateTarget,
  type TargetReason,
  type TargetReasonCode,
  type TargetContext,
  type ConfirmedDrive,
} from './rules';
export { watchDrives, type DriveWatcher } from './watch';
export { unmountDrive, ejectDrive } from './eject';
export { localCardAccess, resizeExt4, resizerAvailable, type CardAccess, type CardOpen } from './access';
