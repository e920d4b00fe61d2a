/**
 * What the app's handlers are given and what they serve: the injected dependencies (drives, dialogs, the
 * elevated job runner…), the requests each job kind receives once checked, and the handler map, typed against
 * the contract's request channels.
 */
import { AtlasError } from '../../engine/errors';
import type { JobControl } from '../../engine/progress';
import type {
  Drive,
  DriveSnapshot,
  EventChannel,
  EventOf,
  FilePurpose,
  FolderPurpose,
  ImageInfo,
  InsertRequest,
  JobValues,
  RequestChannel,
  ResponseOf,
  RestoreIntent,
  VerifyRequest,
} from '../../contract';
import type { ActiveJob } from '../jobs';

export type DeviceJobKind = 'flash' | 'clone' | 'restore' | 'check-card';
export type FileJobKind = 'insert' | 'verify' | 'vault-sync' | 'vault-verify';

/** What a device job receives: the validated request plus the live drive records the checks matched. */
export interface DeviceJobRequests {
  flash: {
    image: ImageInfo;
    targets: Drive[];
    confirmed: DriveSnapshot[];
    verify: boolean;
    usedBlocksOnly: boolean;
  };
  clone: { source: Drive; confirmed: DriveSnapshot; tag: string; outDir: string; allowUnbooted: boolean };
  restore: {
    folder: string;
    intent: RestoreIntent;
    /** in the order the person chose them, as `confirmed` */
    targets: Drive[];
    confirmed: DriveSnapshot[];
    /** deploy: each card's hostname, in the same order; null for exact */
    hostnames: string[] | null;
    grow: boolean;
  };
  'check-card': { target: Drive; confirmed: DriveSnapshot };
}

export interface FileJobRequests {
  insert: Required<Omit<InsertRequest, 'outDir' | 'force'>> & { outDir: string; force: boolean };
  verify: VerifyRequest;
  'vault-sync': { from: string; to: string; items?: string[]; dryRun: boolean; checksum: boolean };
  'vault-verify': { folder: string };
}

export type DeviceJobRunner = <K extends DeviceJobKind>(
  kind: K,
  request: DeviceJobRequests[K],
  control: JobControl,
) => Promise<JobValues[K]>;

/** One function per device job kind; `deviceJobRunner` makes them the DeviceJobRunner the handlers call. */
export type DeviceJobRunners = {
  [K in DeviceJobKind]: (request: DeviceJobRequests[K], control: JobControl) => Promise<JobValues[K]>;
};

/** Dispatches a device job to its kind's function: each function is typed by its kind, no cast. */
export function deviceJobRunner(runners: DeviceJobRunners): DeviceJobRunner {
  return (kind, request, control) => runners[kind](request, control);
}

export type FileJobRunners = {
  [K in FileJobKind]?: (request: FileJobRequests[K], control: JobControl) => Promise<JobValues[K]>;
};

export interface Dialogs {
  openFile(purpose: FilePurpose, defaultPath: string): Promise<string | null>;
  openFolder(purpose: FolderPurpose, defaultPath: string): Promise<string | null>;
}

export interface HandlerDeps {
  version: string;
  platform: string;
  /** the user's config folder (settings.json lives there) */
  configDir: string;
  homeDir: string;
  listDrives(): Promise<Drive[]>;
  /** calls back with the whole list whenever a drive comes or goes; returns the stop function */
  watchDrives?(onChange: (drives: Drive[]) => void): () => void;
  /** the events to the renderer(s) */
  emit<E extends EventChannel>(event: E, payload: EventOf<E>): void;
  dialogs?: Dialogs;
  /** device I/O: production runs it in the elevated helper; absent until the helper is available */
  runDeviceJob?: DeviceJobRunner;
  /** file-only jobs run here; a missing one answers UNSUPPORTED */
  fileJobs?: FileJobRunners;
  /** the running jobs and their progress changed (dock and taskbar progress) */
  onActivity?(jobs: ActiveJob[]): void;
  /** opens the file manager on a path (selected in its folder); absent: no file manager here */
  showItemInFolder?(path: string): void;
  /** hashes a base image into the build folder's cache ahead of an insert; absent: no hashing ahead */
  prehashBase?(base: string, buildFolder: string, signal: AbortSignal): Promise<unknown>;
}

/** The handlers of some request channels: each takes the unchecked request and answers the contract's response. */
export type HandlerGroup<C extends RequestChannel> = {
  [K in C]: (request: unknown) => Promise<ResponseOf<K>>;
};

export type Handlers = HandlerGroup<RequestChannel>;

export function notAvailable(what: string): AtlasError {
  return new AtlasError('UNSUPPORTED', `${what} is not available yet in this build of Atlas Imager.`);
}
