/**
 * createHandlers: one function per request channel of the contract, in plain Node. Electron registers them
 * behind ipcMain.handle (main/electron/ipc.ts); the browser tests serve the very same functions over a WebSocket.
 *
 * Nothing the renderer sends is trusted: every payload is checked for shape, paths must be absolute, and a device
 * job only starts when the drive the user confirmed (device, size, serial) is still the one plugged in and is a
 * permissible target. File-only jobs (insert, verify) run in this process; device jobs go through the injected
 * runDeviceJob, which production wires to the elevated helper.
 */
import { promises as fsp } from 'node:fs';
import { basename } from 'node:path';
import { AtlasError, toAtlasError } from '../engine/errors';
import type { JobControl } from '../engine/progress';
import type {
  Drive,
  DriveSnapshot,
  EventChannel,
  EventOf,
  FilePurpose,
  FolderPurpose,
  ImageInfo,
  InsertRequest,
  JobStarted,
  JobValues,
  Reply,
  RequestChannel,
  ResponseOf,
  RestoreIntent,
  VerifyRequest,
} from '../contract';
import { cloneFolderName, GOLDEN_NUMBER_MAX } from '../shared/names';
import { checkTag } from '../engine/names';
import { driveReasons, type DriveUse, type TargetContext } from '../shared/targets';
import { assertReasons } from '../engine/drives/rules';
import { JobRegistry, cancelledError, type ActiveJob } from './jobs';
import { completeJobValue, jobLogEntry, type DeviceJobEnd } from './job-log';
import { appendJobLog, readJobLog } from '../engine/library/job-log';
import { appendDeployments, deploymentRecords, readDeployments } from '../engine/library/deployments';
import { checkRestoreRequest, restoreHostnames } from './restore-request';
import { listLibrary } from './library';
import { listRemote, remoteFolderOf } from './remote';
import { isRemoteFolderText } from '../shared/remote-folders';
import { inspectImage } from './image';
import { checkInsertFields } from '../engine/jobs/insert/check-fields';
import { inspectClone } from './clone-info';
import { SettingsStore } from './settings';
import * as v from './validate';

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

export type Handlers = { [C in RequestChannel]: (request: unknown) => Promise<ResponseOf<C>> };

export interface AppHandlers {
  handlers: Handlers;
  /** Runs a channel's handler and turns any failure into an ErrorDTO; unknown channels are refused. */
  dispatch(channel: string, request: unknown): Promise<Reply<unknown>>;
  jobs: JobRegistry;
  settings: SettingsStore;
  /** stops watching drives and cancels the running jobs */
  dispose(): Promise<void>;
}

const NO_FIELDS: readonly string[] = [];
const MAX_ITEMS = 1000;
const FILE_JOB_NAMES: Record<FileJobKind, string> = {
  insert: 'Insert (Phase 0)',
  verify: 'Verify',
  'vault-sync': 'Vault sync',
  'vault-verify': 'Vault verify',
};
const MAX_TARGETS = 16;
const INSERT_FIELDS = [
  'base',
  'firstboot',
  'service',
  'secrets',
  'version',
  'patch',
  'tag',
  'outDir',
  'force',
];
const DEVICE_JOB_NAMES: Record<DeviceJobKind, string> = {
  flash: 'Flash to a card',
  clone: 'Clone a card',
  restore: 'Restore to a card',
  'check-card': 'Check this card',
};

export function notAvailable(what: string): AtlasError {
  return new AtlasError('UNSUPPORTED', `${what} is not available yet in this build of Atlas Imager.`);
}

export function createHandlers(deps: HandlerDeps): AppHandlers {
  const settings = new SettingsStore(deps.configDir, deps.homeDir);
  const jobs = new JobRegistry(
    (event, payload) => deps.emit(event, payload),
    (active) => deps.onActivity?.(active),
  );
  const stopWatching = deps.watchDrives?.((drives) => deps.emit('drives:changed', { drives }));
  // one base hashed ahead at a time: choosing another base stops the previous hash
  let prehash: { base: string; controller: AbortController } | null = null;

  const empty = (request: unknown): void => {
    v.onlyKeys(v.object(request ?? {}), NO_FIELDS);
  };

  /**
   * The confirmed drive must still be there, unchanged, and pass the target rules for its use (a write target
   * must not hold `context.sourcePath`, nor be smaller than `context.imageSize`).
   */
  async function resolveDrive(
    snapshot: DriveSnapshot,
    use: DriveUse,
    context: TargetContext = {},
    drives?: Drive[],
  ): Promise<Drive> {
    const list = drives ?? (await deps.listDrives());
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

  async function existing(path: string, what: string, kind: 'file' | 'folder'): Promise<string> {
    const stat = await fsp.stat(path).catch((error: unknown) => {
      throw toAtlasError(error, what);
    });
    if (kind === 'file' ? !stat.isFile() : !stat.isDirectory()) {
      throw new AtlasError('INVALID_ARGUMENT', `${what} ${path} is not a ${kind}.`);
    }
    return path;
  }

  function tag(value: unknown): string {
    return checkTag(v.string(value, 'The tag', 256));
  }

  /**
   * Starts a device job through the runner; `recorded` runs after it succeeded and before its outcome goes out
   * (the deployment record), as the job log does.
   */
  function startDeviceJob<K extends DeviceJobKind>(
    kind: K,
    devices: string[],
    request: DeviceJobRequests[K],
    recorded?: (value: JobValues[K]) => Promise<void>,
  ): JobStarted {
    const runner = deps.runDeviceJob;
    if (!runner) throw notAvailable(DEVICE_JOB_NAMES[kind]);
    const { jobId } = jobs.start(kind, devices, async (control) => {
      // the log line is written before the job's outcome goes out, so what the app shows next includes it
      const log = (end: DeviceJobEnd<K>): Promise<void> =>
        jobLogEntry(kind, request, end)
          .then((entry) => (entry ? appendJobLog(deps.configDir, entry) : undefined))
          .catch(() => undefined); // a log that cannot be written never fails the job it records
      try {
        const value = await completeJobValue(kind, request, await runner(kind, request, control));
        // a record that cannot be written never fails the cards it records (they were written and verified)
        await recorded?.(value).catch(() => undefined);
        await log(
          control.signal?.aborted
            ? { result: 'cancelled', error: cancelledError() }
            : { result: 'succeeded', value },
        );
        return value;
      } catch (error) {
        const e = toAtlasError(error);
        await log({
          result: control.signal?.aborted || e.code === 'CANCELLED' ? 'cancelled' : 'failed',
          error: e,
        });
        throw error;
      }
    });
    return { jobId, kind };
  }

  function startFileJob<K extends FileJobKind>(kind: K, request: FileJobRequests[K]): JobStarted {
    const runner = deps.fileJobs?.[kind];
    if (!runner) throw notAvailable(FILE_JOB_NAMES[kind]);
    const { jobId } = jobs.start(kind, [], (control) => runner(request, control));
    return { jobId, kind };
  }

  const handlers: Handlers = {
    'app:info': async (request) => {
      empty(request);
      return { version: deps.version, platform: deps.platform };
    },
    'settings:get': async (request) => {
      empty(request);
      return settings.get();
    },
    'settings:set': async (request) => settings.set(request),
    'drives:list': async (request) => {
      empty(request);
      return deps.listDrives();
    },
    'dialog:open-file': async (request) => {
      const o = v.onlyKeys(v.object(request), ['purpose']);
      const purpose = oneOf(
        o.purpose,
        ['image', 'base-image', 'firstboot', 'service', 'secrets'] as const,
        'The purpose',
      );
      if (!deps.dialogs) throw notAvailable('The file dialog');
      return deps.dialogs.openFile(purpose, (await settings.get()).buildFolder);
    },
    'dialog:open-folder': async (request) => {
      const o = v.onlyKeys(v.object(request), ['purpose']);
      const purpose = oneOf(o.purpose, ['build', 'vault', 'clone-folder', 'output'] as const, 'The purpose');
      if (!deps.dialogs) throw notAvailable('The folder dialog');
      const s = await settings.get();
      return deps.dialogs.openFolder(purpose, purpose === 'vault' ? s.vaultFolder : s.buildFolder);
    },
    'image:inspect': async (request) => {
      const o = v.onlyKeys(v.object(request), ['path']);
      return inspectImage(v.path(o.path, 'The image'));
    },
    'library:list': async (request) => {
      empty(request);
      return listLibrary(await settings.get());
    },
    'shell:show-item': async (request) => {
      const o = v.onlyKeys(v.object(request), ['path']);
      const path = v.path(o.path, 'The item');
      if (!deps.showItemInFolder) throw notAvailable('Show in folder');
      // only what the Library lists: the renderer cannot have the file manager open anything else
      const { entries } = await listLibrary(await settings.get());
      if (!entries.some((e) => e.path === path)) {
        throw new AtlasError(
          'NOT_FOUND',
          `${basename(path)} is not in the Library (the build folder or the vault). Refresh the list.`,
        );
      }
      deps.showItemInFolder(path);
      return {};
    },
    'remote:list': async (request) => {
      const o = v.onlyKeys(v.object(request), ['folder']);
      return listRemote(
        v.string(o.folder, 'The remote build folder', 1024),
        (await settings.get()).vaultFolder,
      );
    },
    'clone:inspect': async (request) => {
      const o = v.onlyKeys(v.object(request), ['folder']);
      return inspectClone(v.path(o.folder, 'The clone folder'));
    },
    'flash:start': async (request) => {
      const o = v.onlyKeys(v.object(request), ['image', 'targets', 'verify', 'usedBlocksOnly']);
      const image = await inspectImage(v.path(o.image, 'The image'));
      const verify = v.boolean(o.verify, 'Verify');
      const usedBlocksOnly =
        o.usedBlocksOnly === undefined ? false : v.boolean(o.usedBlocksOnly, 'Used blocks only');
      if (usedBlocksOnly && image.format !== 'img') {
        throw new AtlasError(
          'INVALID_ARGUMENT',
          `Writing only the used blocks needs a raw .img; ${image.name} is an archive. Flash it whole, or decompress it first.`,
        );
      }
      if (!Array.isArray(o.targets) || o.targets.length === 0) {
        throw new AtlasError('INVALID_ARGUMENT', 'Choose at least one card to flash.');
      }
      if (o.targets.length > MAX_TARGETS) {
        throw new AtlasError('INVALID_ARGUMENT', `At most ${MAX_TARGETS} cards can be flashed at once.`);
      }
      const confirmed = o.targets.map((t, i) => v.snapshot(t, `Card ${i + 1}`));
      if (new Set(confirmed.map((s) => s.device)).size !== confirmed.length) {
        throw new AtlasError('INVALID_ARGUMENT', 'The same card is listed twice.');
      }
      const drives = await deps.listDrives();
      const targets: Drive[] = [];
      const context = { imageSize: image.imageSize, sourcePath: image.path, sourceName: image.name };
      for (const snap of confirmed) targets.push(await resolveDrive(snap, 'write', context, drives));
      return startDeviceJob(
        'flash',
        targets.map((d) => d.device),
        { image, targets, confirmed, verify, usedBlocksOnly },
      );
    },
    'insert:prepare-base': async (request) => {
      const o = v.onlyKeys(v.object(request), ['base']);
      const base = await existing(v.path(o.base, 'The base image'), 'The base image', 'file');
      if (!deps.prehashBase) return { hashing: false };
      if (prehash?.base === base) return { hashing: true };
      prehash?.controller.abort();
      const controller = new AbortController();
      prehash = { base, controller };
      // best effort: a failure here only means the insert hashes the base itself
      void deps
        .prehashBase(base, (await settings.get()).buildFolder, controller.signal)
        .catch(() => undefined)
        .finally(() => {
          if (prehash?.controller === controller) prehash = null;
        });
      return { hashing: true };
    },
    'insert:check': async (request) => {
      const o = v.onlyKeys(v.object(request), INSERT_FIELDS);
      // a field not picked yet is not checked; one picked is checked as the build will check it
      const path = (value: unknown, what: string): string | undefined =>
        value === undefined || value === '' ? undefined : v.path(value, what);
      const number = (value: unknown, what: string): number | undefined =>
        value === undefined ? undefined : v.integer(value, what, 0, GOLDEN_NUMBER_MAX);
      const given = {
        base: path(o.base, 'The base image'),
        firstboot: path(o.firstboot, 'The firstboot script'),
        service: path(o.service, 'The service unit'),
        secrets: path(o.secrets, 'The secrets file'),
        version: number(o.version, 'The version N'),
        patch: number(o.patch, 'The patch P'),
        tag: o.tag === undefined ? undefined : v.string(o.tag, 'The tag', 256),
        outDir: path(o.outDir, 'The output folder') ?? (await settings.get()).buildFolder,
        force: v.optionalBoolean(o.force, 'Replace'),
      };
      return checkInsertFields(
        Object.fromEntries(Object.entries(given).filter(([, value]) => value !== undefined)),
      );
    },
    'insert:start': async (request) => {
      const o = v.onlyKeys(v.object(request), INSERT_FIELDS);
      const s = await settings.get();
      const r: FileJobRequests['insert'] = {
        base: await existing(v.path(o.base, 'The base image'), 'The base image', 'file'),
        firstboot: await existing(
          v.path(o.firstboot, 'The firstboot script'),
          'The firstboot script',
          'file',
        ),
        service: await existing(v.path(o.service, 'The service unit'), 'The service unit', 'file'),
        secrets: await existing(v.path(o.secrets, 'The secrets file'), 'The secrets file', 'file'),
        version: v.integer(o.version, 'The version N', 0, GOLDEN_NUMBER_MAX),
        patch: v.integer(o.patch, 'The patch P', 0, GOLDEN_NUMBER_MAX),
        tag: tag(o.tag),
        outDir: o.outDir === undefined ? s.buildFolder : v.path(o.outDir, 'The output folder'),
        force: v.optionalBoolean(o.force, 'Force') ?? false,
      };
      return startFileJob('insert', r);
    },
    'clone:start': async (request) => {
      const o = v.onlyKeys(v.object(request), ['source', 'tag', 'outDir', 'allowUnbooted']);
      const confirmed = v.snapshot(o.source, 'The source card');
      const t = tag(o.tag);
      const allowUnbooted = v.optionalBoolean(o.allowUnbooted, 'Clone anyway') ?? false;
      const outDir =
        o.outDir === undefined ? (await settings.get()).buildFolder : v.path(o.outDir, 'The output folder');
      const source = await resolveDrive(confirmed, 'read');
      const target = `${outDir}/${cloneFolderName(t)}`;
      if (
        await fsp.stat(target).then(
          () => true,
          () => false,
        )
      ) {
        throw new AtlasError(
          'ALREADY_EXISTS',
          `${target} already exists. Choose another tag, or move the old clone away.`,
        );
      }
      return startDeviceJob('clone', [source.device], { source, confirmed, tag: t, outDir, allowUnbooted });
    },
    'restore:start': async (request) => {
      const r = checkRestoreRequest(request);
      const folder = await existing(r.folder, 'The clone folder', 'folder');
      const clone = await inspectClone(folder);
      const drives = await deps.listDrives();
      const context = { sourcePath: folder, sourceName: clone.name, imageSize: clone.neededBytes };
      const targets: Drive[] = [];
      for (const snap of r.confirmed) targets.push(await resolveDrive(snap, 'write', context, drives));
      const hostnames = restoreHostnames(r.hostnamePattern, targets);
      const job = { folder, intent: r.intent, targets, confirmed: r.confirmed, hostnames, grow: r.grow };
      return startDeviceJob(
        'restore',
        targets.map((d) => d.device),
        job,
        async (value) => {
          const records = deploymentRecords(
            value,
            targets.map((d) => ({ device: d.device, model: d.description, serial: d.serial, size: d.size })),
            new Date(),
          );
          await appendDeployments((await settings.get()).buildFolder, records);
        },
      );
    },
    'deploy:list': async (request) => {
      empty(request);
      return readDeployments((await settings.get()).buildFolder);
    },
    'card:check': async (request) => {
      const o = v.onlyKeys(v.object(request), ['target']);
      const confirmed = v.snapshot(o.target, 'The card');
      const target = await resolveDrive(confirmed, 'write');
      return startDeviceJob('check-card', [target.device], { target, confirmed });
    },
    'verify:start': async (request) => {
      const o = v.onlyKeys(v.object(request), ['path']);
      const path = v.path(o.path, 'The path');
      await fsp.stat(path).catch((error: unknown) => {
        throw toAtlasError(error, 'Verify');
      });
      return startFileJob('verify', { path });
    },
    'vault:sync': async (request) => {
      const o = v.onlyKeys(v.object(request ?? {}), ['from', 'to', 'items', 'dryRun', 'checksum']);
      const s = await settings.get();
      const from =
        o.from === undefined
          ? s.buildFolder
          : typeof o.from === 'string' && isRemoteFolderText(o.from)
            ? remoteFolderOf(o.from).text
            : v.path(o.from, 'The build folder');
      const to = o.to === undefined ? s.vaultFolder : v.path(o.to, 'The vault folder');
      if (from === to) {
        throw new AtlasError('INVALID_ARGUMENT', 'The build folder and the vault are the same folder.');
      }
      let items: string[] | undefined;
      if (o.items !== undefined) {
        if (!Array.isArray(o.items) || o.items.length === 0 || o.items.length > MAX_ITEMS) {
          throw new AtlasError('INVALID_ARGUMENT', `The items must be a list of 1 to ${MAX_ITEMS} names.`);
        }
        items = o.items.map((item) => artifactName(item));
      }
      const dryRun = v.optionalBoolean(o.dryRun, 'Dry run') ?? false;
      const checksum = v.optionalBoolean(o.checksum, 'Compare by checksum') ?? false;
      return startFileJob('vault-sync', { from, to, dryRun, checksum, ...(items ? { items } : {}) });
    },
    'vault:verify': async (request) => {
      const o = v.onlyKeys(v.object(request ?? {}), ['folder']);
      const folder =
        o.folder === undefined ? (await settings.get()).vaultFolder : v.path(o.folder, 'The vault folder');
      return startFileJob('vault-verify', { folder });
    },
    'job:cancel': async (request) => {
      const o = v.onlyKeys(v.object(request), ['jobId']);
      return { cancelled: jobs.cancel(v.string(o.jobId, 'The job id', 64)) };
    },
    'log:list': async (request) => {
      empty(request);
      return readJobLog(deps.configDir);
    },
  };

  return {
    handlers,
    jobs,
    settings,
    async dispatch(channel, request) {
      if (!Object.hasOwn(handlers, channel)) {
        return { ok: false, error: { code: 'INVALID_ARGUMENT', message: `Unknown request "${channel}".` } };
      }
      try {
        const value = await handlers[channel as RequestChannel](request);
        return { ok: true, value };
      } catch (error) {
        const e = toAtlasError(error);
        return { ok: false, error: { code: e.code, message: e.message } };
      }
    },
    async dispose() {
      stopWatching?.();
      prehash?.controller.abort();
      await jobs.cancelAll();
    },
  };
}

function oneOf<T extends string>(value: unknown, options: readonly T[], what: string): T {
  if (typeof value !== 'string' || !options.includes(value as T)) {
    throw new AtlasError('INVALID_ARGUMENT', `${what} must be one of ${options.join(', ')}.`);
  }
  return value as T;
}

/** An artifact's name: an image file name or a clone folder name, never a path. */
function artifactName(value: unknown): string {
  const name = v.string(value, 'An item', 255);
  if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) {
    throw new AtlasError(
      'INVALID_ARGUMENT',
      `"${name}" is not an artifact name (a file or folder name, no path).`,
    );
  }
  return name;
}
