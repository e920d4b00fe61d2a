/**
 * What the ext4 injection worker understands: a list of operations on one ext2/3/4 filesystem inside an image
 * file, run in order. Shared by the worker and its API; types only.
 *
 * A worker serves sessions one after another (pool.ts keeps it warm between them): each starts with an
 * OpenSession on the worker's own port, which hands over a MessagePort of the session's own; everything else
 * (ToWorker, FromWorker) goes over that port, so a session never sees another's messages.
 */
import type { MessagePort } from 'node:worker_threads';

/** Owner and mode of something created in the image; uid/gid default to 0 (root). */
export interface Ext4Owner {
  uid?: number;
  gid?: number;
}

export type Ext4Op =
  /** mkdir -p: creates the missing directories of `path` with `mode` (default 0755) and the owner. */
  | ({ op: 'mkdirp'; path: string; mode?: number } & Ext4Owner)
  /** Writes a regular file, replacing a file or link already at `path`; then chmod and chown. */
  | ({ op: 'writeFile'; path: string; data: Uint8Array; mode: number } & Ext4Owner)
  /** Creates `path` as a symlink to `target`; `replace` swaps an existing symlink, anything else is EEXIST. */
  | ({ op: 'symlink'; path: string; target: string; replace?: boolean } & Ext4Owner)
  | { op: 'readFile'; path: string }
  | { op: 'readlink'; path: string }
  /** names in a directory, without . and .. */
  | { op: 'readdir'; path: string }
  /** lstat: the link itself, not what it points to; null when nothing is there. */
  | { op: 'stat'; path: string }
  | { op: 'exists'; path: string }
  | { op: 'unlink'; path: string };

export type Ext4FileType = 'file' | 'directory' | 'symlink' | 'other';

export interface Ext4Stat {
  type: Ext4FileType;
  /** permission bits only (mode & 0o7777) */
  mode: number;
  uid: number;
  gid: number;
  size: number;
}

/** One result per op: readFile → bytes, readlink → target, readdir → names, stat → Ext4Stat | null, exists → boolean, else null. */
export type Ext4Result = Uint8Array | string | string[] | Ext4Stat | boolean | null;

export interface WorkerInit {
  path: string;
  /** an open descriptor of the image to use instead of opening `path` (left open on close; see Ext4OpenOptions) */
  fd?: number;
  /** `fd` is O_DIRECT: whole aligned units of this many bytes (see Ext4OpenOptions) */
  directUnit?: number;
  /** byte offset of the filesystem inside the file */
  offset: number;
  write: boolean;
  /** fdatasync the file when the session closes (a writable session only) */
  sync: boolean;
  /** read-only session whose writes are kept in memory and handed back on close (see captureExt4Writes) */
  capture: boolean;
  /** every read first asks for the bytes it needs ('need'), the image being still written (Ext4OpenOptions.waitFor) */
  gated?: boolean;
}

/** A write libext2fs made, kept instead of written: `data` belongs at byte `position` of the image. */
export interface CapturedWrite {
  position: number;
  data: Uint8Array;
}

export interface WorkerFailure {
  /** errno name from libext2fs ('ENOENT', 'EEXIST', 'ENOSPC', ...) or 'MOUNT' / 'OPEN' / 'UNKNOWN' */
  code: string;
  message: string;
  /** the path inside the filesystem the failing op was about */
  path?: string;
  opIndex?: number;
}

/** To the worker's own port: run a session on `port` (the worker is idle: sessions never overlap). */
export interface OpenSession {
  type: 'open';
  init: WorkerInit;
  port: MessagePort;
}

/** To a session's port. */
export type ToWorker =
  | { type: 'run'; id: number; ops: Ext4Op[] }
  | { type: 'close' }
  /** the answer to a 'need': the image now holds `bytes` bytes (fewer than asked only when it ended first) */
  | { type: 'available'; id: number; bytes: number };

/** From a session's port; after 'failed' or 'closed' the session's port is closed. */
export type FromWorker =
  | { type: 'ready' }
  | { type: 'failed'; error: WorkerFailure }
  | { type: 'done'; id: number; results: Ext4Result[] }
  | { type: 'error'; id: number; error: WorkerFailure }
  | { type: 'closed'; error?: WorkerFailure; writes?: CapturedWrite[] }
  /** a gated session's read waits for the image's first `end` bytes */
  | { type: 'need'; id: number; end: number };
