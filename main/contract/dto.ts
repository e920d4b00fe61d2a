/**
 * The data that crosses the IPC seam. Plain JSON-able shapes only (no classes, no functions, no Buffers), so the
 * same types hold over Electron IPC, over the tests' WebSocket and in the renderer's stores.
 */

/** An error as the renderer sees it: the engine's AtlasError code and its sentence (never a stack). */
export interface ErrorDTO {
  code: string;
  message: string;
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
  /** the raw image size: the file size for .img, null for an archive whose size is not known in advance */
  imageSize: number | null;
}

export type JobKind = 'flash' | 'insert' | 'clone' | 'restore' | 'verify' | 'vault-sync' | 'vault-verify';

export interface JobProgress {
  /** 'decompressing', 'writing', 'verifying' ... */
  stage: string;
  bytesDone: number;
  bytesTotal: number | null;
  /** bytes per second */
  rate: number;
  etaSeconds: number | null;
  detail?: string;
}

export interface FlashTargetResult {
  device: string;
  ok: boolean;
  verified: boolean;
  error?: ErrorDTO;
}

export interface FlashResult {
  image: string;
  bytesWritten: number;
  verified: boolean;
  /** hex digest of the image as written, when the job computed one */
  checksum?: string;
  targets: FlashTargetResult[];
  /** set when only the used blocks were written: how much of the image that was */
  usedBlocksOnly?: { bytesWritten: number; imageBytes: number };
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
}

export interface RestoreResult {
  folder: string;
  target: string;
  /** whether the root partition and its filesystem were grown to fill the card */
  grown: boolean;
  /** how root will grow when it could not be done now (e.g. at first boot) */
  growNote?: string;
}

export interface VerifyResult {
  path: string;
  ok: boolean;
  /** how many files / checksums were checked */
  checked: number;
  problems: string[];
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
}

export type JobOutcome<K extends JobKind = JobKind> =
  { ok: true; kind: K; value: JobValues[K] } | { ok: false; kind: K; error: ErrorDTO };

export interface Settings {
  /** where Insert writes golden images and Clone writes clone folders */
  buildFolder: string;
  /** the permanent archive */
  vaultFolder: string;
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
