/**
 * The channel maps (after GitHub Desktop's ipc-shared.ts): every request channel with its request and response
 * types, every event with its payload. Main registers one handler per request channel, the preload forwards
 * exactly these names, and the renderer's calls are typed by the same maps.
 */
import type {
  AppInfo,
  CloneInfo,
  DeploymentRecord,
  Drive,
  DriveSnapshot,
  ImageInfo,
  InsertFieldProblem,
  JobKind,
  JobLogEntry,
  JobOutcome,
  JobProgress,
  LibraryListing,
  RemoteListing,
  RestoreIntent,
  Settings,
} from './dto';

/** A request that carries nothing. */
export type Empty = Record<string, never>;

/** What a file dialog is for: it picks the title and the file filters. */
export type FilePurpose = 'image' | 'base-image' | 'firstboot' | 'service' | 'secrets';
export type FolderPurpose = 'build' | 'vault' | 'clone-folder' | 'output';

export interface JobStarted {
  jobId: string;
  kind: JobKind;
}

export interface FlashRequest {
  image: string;
  /** one or several cards, as the user confirmed them */
  targets: DriveSnapshot[];
  /** false skips reading the cards back: faster, but a bad card or reader goes unnoticed */
  verify: boolean;
  /**
   * write only the blocks the image's filesystems use (raw .img only): faster, and the free space on the
   * cards keeps its old data; default false
   */
  usedBlocksOnly?: boolean;
}

export interface InsertRequest {
  base: string;
  firstboot: string;
  service: string;
  secrets: string;
  version: number;
  patch: number;
  tag: string;
  /** defaults to the build folder */
  outDir?: string;
  force?: boolean;
}

export interface CloneRequest {
  source: DriveSnapshot;
  tag: string;
  /** defaults to the build folder */
  outDir?: string;
  /** the Phase rule's override, for a safety net: clone a card whose first boot has not run (refused otherwise) */
  allowUnbooted?: boolean;
}

export interface RestoreRequest {
  folder: string;
  /** 1 to 16 cards, as the person confirmed them, in the order they chose them (deploy numbers them so) */
  targets: DriveSnapshot[];
  /** exact: roll back this device; deploy: new devices, each card's identity re-armed after it verified */
  intent: RestoreIntent;
  /** deploy only: each card's hostname, e.g. 'atlas-{n:03}' (main/shared/hostnames.ts) */
  hostnamePattern?: string;
  /**
   * deploy only: the hostnames the person was shown and confirmed, in the order of `targets`; refused when the
   * pattern now gives others (the record moved on meanwhile: a deploy from elsewhere)
   */
  hostnames?: string[];
  /** grow the root partition and its filesystem to fill each card */
  grow: boolean;
}

export interface CardCheckRequest {
  target: DriveSnapshot;
}

export interface VerifyRequest {
  /** a clone folder or a golden image */
  path: string;
}

/** Build folder → vault; both default to the settings' folders. */
export interface VaultSyncRequest {
  /** a local folder, or a remote one (`ssh://…`, main/shared/remote-folders) */
  from?: string;
  to?: string;
  /** only these artifacts (image file names or clone folder names) */
  items?: string[];
  /** plan only: list what would be copied, write nothing */
  dryRun?: boolean;
  /**
   * compare the artifacts the vault already holds by sha256, both sides read in full, even when their sizes and
   * modification times match (default false: matching sizes and times count as identical)
   */
  checksum?: boolean;
}

export interface VaultVerifyRequest {
  /** defaults to the vault folder */
  folder?: string;
}

export interface RequestChannels {
  'app:info': { request: Empty; response: AppInfo };
  'settings:get': { request: Empty; response: Settings };
  'settings:set': { request: Partial<Settings>; response: Settings };
  'drives:list': { request: Empty; response: Drive[] };
  'dialog:open-file': { request: { purpose: FilePurpose }; response: string | null };
  'dialog:open-folder': { request: { purpose: FolderPurpose }; response: string | null };
  'image:inspect': { request: { path: string }; response: ImageInfo };
  'library:list': { request: Empty; response: LibraryListing };
  /** a remote build folder's artifacts (over ssh) and which of them the vault holds; pull with vault:sync */
  'remote:list': { request: { folder: string }; response: RemoteListing };
  /** a clone folder's card-size need, read from its partition-table dump (nothing is written) */
  'clone:inspect': { request: { folder: string }; response: CloneInfo };
  'flash:start': { request: FlashRequest; response: JobStarted };
  /**
   * The base image was chosen: hash it in the background for the coming insert (into the build folder's hash
   * cache), so the insert need not wait for it. `hashing` false when this build cannot.
   */
  'insert:prepare-base': { request: { base: string }; response: { hashing: boolean } };
  /**
   * Insert's inputs as picked so far (any may be missing), checked as the build would check them, every problem
   * at once; nothing is written
   */
  'insert:check': { request: Partial<InsertRequest>; response: InsertFieldProblem[] };
  'insert:start': { request: InsertRequest; response: JobStarted };
  'clone:start': { request: CloneRequest; response: JobStarted };
  'restore:start': { request: RestoreRequest; response: JobStarted };
  /** the build folder's deployment record (each deployed card), newest first */
  'deploy:list': { request: Empty; response: DeploymentRecord[] };
  /** check a card holds what it claims (fake capacity): a device job of kind 'check-card' */
  'card:check': { request: CardCheckRequest; response: JobStarted };
  'verify:start': { request: VerifyRequest; response: JobStarted };
  'vault:sync': { request: VaultSyncRequest; response: JobStarted };
  'vault:verify': { request: VaultVerifyRequest; response: JobStarted };
  'job:cancel': { request: { jobId: string }; response: { cancelled: boolean } };
  /** the operator's job log, newest first (the last 200 device jobs) */
  'log:list': { request: Empty; response: JobLogEntry[] };
  /** shows a Library artifact (an image or a clone folder) in the system's file manager */
  'shell:show-item': { request: { path: string }; response: Empty };
}

export type RequestChannel = keyof RequestChannels;
export type RequestOf<C extends RequestChannel> = RequestChannels[C]['request'];
export type ResponseOf<C extends RequestChannel> = RequestChannels[C]['response'];

export interface EventChannels {
  'job:progress': { jobId: string; kind: JobKind; progress: JobProgress };
  /** exactly one per job, success or failure (cancelled is a failure with code CANCELLED) */
  'job:finished': { jobId: string; outcome: JobOutcome };
  'drives:changed': { drives: Drive[] };
}

export type EventChannel = keyof EventChannels;
export type EventOf<E extends EventChannel> = EventChannels[E];
