/**
 * What every group of handlers shares: the injected dependencies, the settings, the job registry, the check that a
 * confirmed drive is still the one plugged in, and the start of a device or file job (its job log line included).
 */
import { AtlasError } from '../../engine/errors';
import type { Drive, DriveSnapshot, JobStarted, JobValues } from '../../contract';
import { driveReasons, type DriveUse, type TargetContext } from '../../shared/targets';
import { assertReasons } from '../../engine/drives/rules';
import { withJobLog } from '../../engine/library/job-log';
import { JobRegistry } from '../jobs';
import { completeJobValue, fileJobRecord, jobRecord } from '../job-log';
import { SettingsStore } from '../settings';
import {
  notAvailable,
  type DeviceJobKind,
  type DeviceJobRequests,
  type FileJobKind,
  type FileJobRequests,
  type HandlerDeps,
} from './types';

const DEVICE_JOB_NAMES: Record<DeviceJobKind, string> = {
  flash: 'Flash to a card',
  clone: 'Clone a card',
  restore: 'Restore to a card',
  'check-card': 'Check this card',
};
const FILE_JOB_NAMES: Record<FileJobKind, string> = {
  insert: 'Insert (Phase 0)',
  verify: 'Verify',
  'vault-sync': 'Vault sync',
  'vault-verify': 'Vault verify',
};

export class HandlerContext {
  readonly settings: SettingsStore;
  readonly jobs: JobRegistry;
  private readonly stops: Array<() => void> = [];

  constructor(readonly deps: HandlerDeps) {
    this.settings = new SettingsStore(deps.configDir, deps.homeDir);
    this.jobs = new JobRegistry(
      (event, payload) => deps.emit(event, payload),
      (active) => deps.onActivity?.(active),
    );
  }

  /**
   * The confirmed drive must still be there, unchanged, and pass the target rules for its use (a write target
   * must not hold `context.sourcePath`, nor be smaller than `context.imageSize`).
   */
  async resolveDrive(
    snapshot: DriveSnapshot,
    use: DriveUse,
    context: TargetContext = {},
    drives?: Drive[],
  ): Promise<Drive> {
    const list = drives ?? (await this.deps.listDrives());
    const drive = list.find((d) => d.device === snapshot.device);
    if (!drive) {
      throw new AtlasError(
        'DRIVE_REMOVED',
        `${snapshot.device} is no longer connected. Plug the card in again and choose it.`,
      );
    }
    if (drive.size !== snapshot.size || drive.serial !== snapshot.serial) {
      throw new AtlasError(
        'DRIVE_CHANGED',
        `${snapshot.device} is not the card you confirmed: its size or serial number changed. Choose the card again.`,
        { expected: snapshot, found: { size: drive.size, serial: drive.serial } },
      );
    }
    const reasons = driveReasons(drive, use, context);
    assertReasons(
      drive.device,
      reasons,
      use === 'write' ? 'This card cannot be written' : 'This drive cannot be read',
    );
    return drive;
  }

  /**
   * Starts a device job through the runner; `recorded` runs once it ended and before its outcome goes out (the
   * deployment record), as the job log does: with its value (and may return it amended, e.g. with why the record
   * could not be written), or with null and the error it failed with.
   */
  startDeviceJob<K extends DeviceJobKind>(
    kind: K,
    devices: string[],
    request: DeviceJobRequests[K],
    recorded?: (value: JobValues[K] | null, error?: unknown) => Promise<JobValues[K] | void>,
  ): JobStarted {
    const runner = this.deps.runDeviceJob;
    if (!runner) throw notAvailable(DEVICE_JOB_NAMES[kind]);
    const configDir = this.deps.configDir;
    const { jobId } = this.jobs.start(kind, devices, (control) =>
      withJobLog(
        configDir,
        (value: JobValues[K] | null) => jobRecord(kind, request, value),
        async () => {
          let value: JobValues[K];
          try {
            value = await completeJobValue(kind, request, await runner(kind, request, control));
          } catch (error) {
            await recorded?.(null, error).catch(() => undefined);
            throw error;
          }
          // a record that cannot be written never fails the cards it records (they were written and verified)
          return (await recorded?.(value).catch(() => undefined)) ?? value;
        },
        control.signal,
      ),
    );
    return { jobId, kind };
  }

  /** Runs `stop` on dispose (a watch, a background task). */
  onDispose(stop: () => void): void {
    this.stops.push(stop);
  }

  /** Stops what registered with onDispose and cancels the running jobs. */
  async dispose(): Promise<void> {
    for (const stop of this.stops.splice(0)) stop();
    await this.jobs.cancelAll();
  }

  startFileJob<K extends FileJobKind>(kind: K, request: FileJobRequests[K]): JobStarted {
    const runner = this.deps.fileJobs?.[kind];
    if (!runner) throw notAvailable(FILE_JOB_NAMES[kind]);
    const configDir = this.deps.configDir;
    const { jobId } = this.jobs.start(kind, [], (control) =>
      withJobLog(
        configDir,
        (value: JobValues[K] | null) => fileJobRecord(kind, request, value),
        () => runner(request, control),
        control.signal,
      ),
    );
    return { jobId, kind };
  }
}
