/**
 * The data that crosses the IPC seam. Plain JSON-able shapes only (no classes, no functions, no Buffers), so the
 * same types hold over Electron IPC, over the tests' WebSocket and in the renderer's stores.
 */

/**
 * The stable code of every error the app reports (the engine's AtlasError, the CLI's exit, the renderer's
 * messages): tests and the UI match on it, the sentence beside it is for the person.
 */
export type AtlasErrorCode =
  // input and arguments
  | 'INVALID_ARGUMENT'
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'UNSUPPORTED'
  | 'CONFIRMATION_REQUIRED'
  // archives and images
  | 'BAD_MAGIC'
  | 'BAD_HEADER'
  | 'BAD_BITMAP'
  | 'CHECKSUM_MISMATCH'
  | 'TRUNCATED'
  | 'CORRUPT_ARCHIVE'
  | 'MALFORMED_DUMP'
  | 'NO_PARTITION_TABLE'
  | 'MANIFEST_MISMATCH'
  | 'FS_NOT_CLEAN'
  | 'FS_UNSUPPORTED'
  // sources and targets
  | 'TARGET_TOO_SMALL'
  | 'SOURCE_MOUNTED'
  | 'TARGET_MOUNTED'
  | 'NOT_REMOVABLE'
  | 'SYSTEM_DISK'
  | 'READ_ONLY'
  | 'DRIVE_CHANGED'
  | 'DRIVE_REMOVED'
  | 'SOURCE_IS_TARGET'
  | 'VERIFY_MISMATCH'
  /** the card holds less than it claims (writes past its real size wrap onto its start) */
  | 'FAKE_CAPACITY'
  // the archive (vault)
  | 'CONFLICT'
  | 'VAULT_UNAVAILABLE'
  | 'PERMISSION_DENIED'
  | 'ELEVATION_FAILED'
  | 'IO_ERROR'
  | 'VAULT_FULL'
  // remote build folders (ssh)
  | 'SSH_UNREACHABLE'
  | 'SSH_AUTH_FAILED'
  | 'SSH_HOST_KEY'
  | 'REMOTE_NOT_FOUND'
  | 'REMOTE_READ_ERROR'
  // product rules
  | 'NOT_ARMBIAN_BASE'
  | 'PHASE_RULE'
  | 'CANCELLED'
  | 'INTERNAL';

/** An error as the renderer sees it: the engine's AtlasError code and its sentence (never a stack). */
export interface ErrorDTO {
  code: AtlasErrorCode;
  message: string;
  /** a job on several cards that failed on every one: each card's own error, to show side by side */
  cards?: Array<{ device: string; message: string }>;
}

/** Every request resolves to a reply: the value, or the error sentence to show. */
export type Reply<T> = { ok: true; value: T } | { ok: false; error: ErrorDTO };

/** One disk as the drive list reports it, with the facts the target rules need. */
export interface Drive {
  /** /dev/sdc, /dev/disk4 */
  device: string;
  /** make and model, or the OS's description */
  description: string;
  /** bytes, null when the OS does not know */
  size: number | null;
  /** USB, SD, SCSI ... as the OS names it, null when unknown */
  bus: string | null;
  serial: string | null;
  mountpoints: string[];
  removable: boolean;
  /** the system disk, or a disk the system depends on */
  system: boolean;
  /** zram, disk images, ramdisks */
  virtual: boolean;
  readOnly: boolean;
  /** over 128 GB: rarely an SD card, so a confirmation is needed */
  large: boolean;
}

/**
 * What the user confirmed in the dialog. Main re-lists the drives before it starts a device job and refuses
 * when the device is gone or its size or serial differ, so a swapped card is never written.
 */
export interface DriveSnapshot {
  device: string;
  size: number | null;
  serial: string | null;
}

export type ImageFormat = 'img' | 'gz' | 'xz' | 'zip' | 'zst';

export interface ImageInfo {
  path: string;
  name: string;
  format: ImageFormat;
  /** the file's size on disk */
  fileSize: number;
  /**
   * The bytes a card must hold, read from the container before anything is decoded: exact when `sizeExact`,
   * else a floor (gzip's trailer counts only its last part, modulo 4 GiB); null when nothing records it
   * (gzip from a pipe, zstd without content sizes): then the card's size is checked as the image is written.
   */
  imageSize: number | null;
  sizeExact: boolean;
}

/** A clone folder as Restore sees it before anything is written: what a card needs to take it. */
export interface CloneInfo {
  folder: string;
  name: string;
  tag: string | null;
  /** the end of its last partition (plus GPT's backup table): the smallest card it restores to */
  neededBytes: number;
  /** the size of the card it was cloned from, when its manifest says */
  sourceBytes: number | null;
  hasManifest: boolean;
}

export type JobKind =
  'flash' | 'insert' | 'clone' | 'restore' | 'verify' | 'vault-sync' | 'vault-verify' | 'check-card';

/**
 * Every stage a job reports progress under (the engine's ProgressMeters are typed by it); the renderer has a
 * label for each (main/shared/stages.ts).
 */
export type JobStage =
  // insert
  | 'checking'
  | 'copying'
  | 'decompressing'
  | 'hashing'
  | 'injecting'
  // flash
  | 'writing'
  // flash, insert, verify, vault verify
  | 'verifying'
  // clone, restore
  | 'cloning'
  | 'restoring'
  | 'growing root'
  // verify of a clone folder
  | 'checking hashes'
  // vault sync
  | 'syncing'
  // check this card (fake capacity)
  | 'checking card';

export interface JobProgress {
  stage: JobStage;
  bytesDone: number;
  bytesTotal: number | null;
  /** bytes per second */
  rate: number;
  etaSeconds: number | null;
  detail?: string;
  /** a job on several cards (flash, restore): where each card is, one bar per card */
  cards?: CardProgress[];
}

/** One card of a device job as it goes. */
export interface CardProgress {
  device: string;
  /** what this card is doing now; `done` and `failed` are final for the job */
  state: 'writing' | 'verifying' | 'finishing' | 'done' | 'failed';
  /** bytes of this card's current state (written, or read back) */
  bytesDone: number;
  bytesTotal: number | null;
  /** why it failed (state `failed`) */
  error?: ErrorDTO;
}

export interface FlashTargetResult {
  device: string;
  ok: boolean;
  verified: boolean;
  /** ejected at the end: safe to pull out */
  ejected: boolean;
  error?: ErrorDTO;
}

export interface FlashResult {
  image: string;
  bytesWritten: number;
  verified: boolean;
  targets: FlashTargetResult[];
  /** time spent writing, and writing plus reading back (seconds) */
  writeSeconds: number;
  seconds: number;
  /** the image's sha256 as its checksum file beside it records it; null when there is none */
  sha256: string | null;
  /** set when only the used blocks were written: how much of the image that was */
  usedBlocksOnly?: { bytesWritten: number; imageBytes: number };
}

/** An Insert input the app checks as it is picked (`output`: the golden image's name in the build folder). */
export type InsertField = 'base' | 'firstboot' | 'service' | 'secrets' | 'output';

export interface InsertFieldProblem {
  field: InsertField;
  /** an error stops the build; a warning is for the person to weigh (a secrets file others can read) */
  severity: 'error' | 'warning';
  /** the error's code; null for a warning */
  code: AtlasErrorCode | null;
  message: string;
}

export interface InjectedFileDTO {
  destination: string;
  mode: string;
  /** empty for links, and for the secrets, which have only `hmacSha256` */
  sha256: string;
  /** the secrets' keyed digest (HMAC-SHA256 under the build folder's .atlas-secrets-key) */
  hmacSha256?: string;
}

export interface InsertResult {
  output: string;
  manifestPath: string;
  baseImage: string;
  baseSha256: string;
  version: number;
  patch: number;
  tag: string;
  files: InjectedFileDTO[];
}

export interface ClonePartitionDTO {
  file: string;
  role: string;
  filesystem: string;
  usedBytes: number;
}

export interface CloneResult {
  folder: string;
  tag: string;
  created: string;
  totalBytes: number;
  partitions: ClonePartitionDTO[];
  /** the golden image (file name) the card descends from; absent: no golden-release, lineage unknown */
  parent?: string;
  /** cloned with the Phase rule overridden: the card's first boot had not run (a safety net) */
  unbooted?: boolean;
}

/** exact: roll back this device (a byte copy of the clone); deploy: new devices, each card's identity re-armed. */
export type RestoreIntent = 'exact' | 'deploy';

/** One card of a restore as it ended; the other cards go on when one fails. */
export interface RestoreCardResult {
  device: string;
  ok: boolean;
  verified: boolean;
  /** whether the root partition and its filesystem were grown to fill the card */
  grown: boolean;
  /** how root will grow when it could not be done now (e.g. at first boot) */
  growNote?: string;
  /** deploy: the hostname this card was given */
  hostname: string | null;
  /** deploy: each identity change made on the card (empty for exact) */
  identityChanges: string[];
  bytesWritten: number;
  /** ejected at the end: safe to remove */
  ejected: boolean;
  /** why this card failed */
  error?: ErrorDTO;
}

export interface RestoreResult {
  folder: string;
  intent: RestoreIntent;
  cloneTag: string | null;
  /** sha256 of the clone folder's manifest file, which lists every file's sha256 (null: it has none) */
  manifestSha256: string | null;
  /** every card ok */
  ok: boolean;
  targets: RestoreCardResult[];
  /** the seconds spent writing, and writing plus reading back */
  writeSeconds: number;
  seconds: number;
  /** why the deployment record could not be written (the cards are as `targets` says); absent when it was */
  recordProblem?: string;
}

/** Check this card: whether it holds what it claims (a fake card wraps writes past its real size). */
export interface CheckCardResult {
  device: string;
  claimedBytes: number;
  verdict: 'genuine' | 'fake';
  /** the most the card can really hold, null when genuine */
  realBytesAtMost: number | null;
  /** the highest place below that which held its marker */
  realBytesAtLeast: number | null;
  /** writes past this many bytes land at the start again (null: not seen) */
  wrapsAt: number | null;
  /** how many places were checked */
  probes: number;
  /** the card's own bytes were put back and read back equal */
  restored: boolean;
  seconds: number;
}

/** A verify that finds a fault fails the job (with the fault as its error): a result is a clean folder. */
export interface VerifyResult {
  path: string;
  /** how many files / checksums were checked */
  checked: number;
}

export interface VaultSyncItemDTO {
  name: string;
  kind: 'golden-image' | 'clone-folder';
  phase: 0 | 1;
  /** would-copy: a dry run's plan */
  action: 'copied' | 'identical' | 'would-copy';
  bytes: number;
  files: number;
}

export interface VaultSyncResult {
  from: string;
  to: string;
  dryRun: boolean;
  items: VaultSyncItemDTO[];
  copied: number;
  identical: number;
  /** bytes copied (or that would be) */
  bytes: number;
  /** free bytes on the vault before copying */
  freeBytes: number;
}

export interface VaultVerifyArtifactDTO {
  name: string;
  kind: 'golden-image' | 'clone-folder';
  phase: 0 | 1;
  status: 'ok' | 'damaged' | 'no-checksum';
  /** one line for a person */
  message: string;
}

export interface VaultVerifyResult {
  folder: string;
  ok: boolean;
  artifacts: VaultVerifyArtifactDTO[];
  damaged: number;
  unchecked: number;
}

export interface JobValues {
  flash: FlashResult;
  insert: InsertResult;
  clone: CloneResult;
  restore: RestoreResult;
  verify: VerifyResult;
  'vault-sync': VaultSyncResult;
  'vault-verify': VaultVerifyResult;
  'check-card': CheckCardResult;
}

/** How one job of kind K ended. */
export type OutcomeOf<K extends JobKind> =
  { ok: true; kind: K; value: JobValues[K] } | { ok: false; kind: K; error: ErrorDTO };

/** How a job ended, discriminated by `kind` then `ok`: checking both gives the value's type, no cast. */
export type JobOutcome<K extends JobKind = JobKind> = { [P in K]: OutcomeOf<P> }[K];

/** One card a device job used, as the drive list described it when the job started. */
export interface JobLogCard {
  device: string;
  model: string;
  serial: string | null;
  size: number | null;
  /** flash and restore: whether this card was written (and verified); null when the job failed as a whole */
  ok?: boolean | null;
}

/**
 * One line of the operator's job log: a job that made or wrote something (a card, a golden image, vault copies), as
 * it ended, whether the app or the CLI ran it. Names, sizes and codes only, never a secret.
 */
export interface JobLogEntry {
  /** ISO date the job ended */
  time: string;
  job: 'flash' | 'clone' | 'restore' | 'insert' | 'vault-sync';
  /** the image (flash), the card (clone), the clone folder (restore), the base image (insert), the build folder */
  source: string;
  /**
   * flash: the image's sha256 as its checksum file records it; clone and restore: the sha256 of the clone
   * folder's manifest, which lists every file's sha256; insert: the sha256 of the golden image's manifest. Null
   * when there is none (and for a vault sync, whose artifacts each have theirs).
   */
  sha256: string | null;
  /** the cards written (flash, restore) or read (clone); none for insert and vault sync */
  cards: JobLogCard[];
  /** what the job made: the clone folder, the golden image, the vault the artifacts were copied into */
  output?: string;
  result: 'succeeded' | 'failed' | 'cancelled';
  /** why it failed */
  error: AtlasErrorCode | null;
}

/** One card of a restore as the build folder's deployment record keeps it (deployments.jsonl, one line per card). */
export interface DeploymentRecord {
  time: string; // ISO, when the card finished
  clone: string; // the clone folder's name
  cloneTag: string | null;
  manifestSha256: string | null;
  intent: 'exact' | 'deploy';
  card: { device: string; model: string; serial: string | null; size: number | null };
  hostname: string | null;
  verified: boolean;
  ok: boolean;
  error: AtlasErrorCode | null;
  /** a failed card: its error's sentence, where and why (absent from lines written before it was kept) */
  reason?: string | null;
}

export interface Settings {
  /** where Insert writes golden images and Clone writes clone folders */
  buildFolder: string;
  /** the permanent archive */
  vaultFolder: string;
  /** build folders on other machines, `ssh://[user@]host[:port]/path` (main/shared/remote-folders), as added */
  remoteFolders: string[];
}

/** Whether the vault holds a remote artifact: same name and sizes (`held`), same name other sizes, or not at all. */
export type VaultHolding = 'held' | 'differs' | 'missing' | 'unknown';

export interface RemoteEntry {
  kind: 'golden-image' | 'clone-folder';
  phase: 0 | 1;
  name: string;
  tag: string | null;
  /** ISO date: the manifest's, or the file's modification time on the build box */
  created: string;
  size: number;
  hasManifest: boolean;
  /** `unknown` when the vault could not be read (its disk is not plugged in) */
  inVault: VaultHolding;
}

/** A remote build folder's artifacts, newest first. */
export interface RemoteListing {
  /** the folder as settings write it */
  folder: string;
  entries: RemoteEntry[];
}

export type LibraryLocation = 'build' | 'vault';

export interface LibraryEntry {
  kind: 'golden-image' | 'clone-folder';
  phase: 0 | 1;
  name: string;
  path: string;
  location: LibraryLocation;
  tag: string | null;
  /** ISO date: the manifest's, or the file's modification time */
  created: string;
  size: number;
  /** whether an atlas manifest sits with it (clones the shell made have none) */
  hasManifest: boolean;
  /** a clone: the golden image (file name) it descends from, when its manifest records it */
  parent?: string;
  /** a clone made with the Phase rule overridden: its card had never booted */
  unbooted?: boolean;
  /** a golden image: the clone folders listed that descend from it */
  clones?: string[];
}

export interface LibraryListing {
  entries: LibraryEntry[];
  /** folders that could not be read, with why (the vault's disk is often not plugged in) */
  unavailable: Array<{ location: LibraryLocation; path: string; reason: string }>;
}

export interface AppInfo {
  version: string;
  platform: string;
}
