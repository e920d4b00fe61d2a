/**
 * An archive's image decoded only as far as someone reads it: the uncompressed stream goes in order into a
 * sparse temporary file (the person's, deleted on close), and decoding runs on only while a reader waits for
 * bytes past what is there. Recognising a base image inside a .img.xz reads the partition table, two
 * superblocks and a few inodes and files near the start: that much is decoded, not the whole image.
 *
 *   const head = await openDecodedHead(source, { signal });
 *   try { ...read head.path through openHeadBlockFile(head) or withExt4(…, { waitFor: head.ensure })… }
 *   finally { await head.close(); }
 */
import { promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { AtlasError, throwIfCancelled, toAtlasError } from '../errors';
import { openBlockFile, readFullyAt, type BlockFile } from '../io/block-file';
import type { ImageSource, SourceReadable } from './source';

export interface DecodedHead {
  /** the temporary file: the decoded bytes so far at their place, holes elsewhere */
  readonly path: string;
  /** the image's uncompressed size when the archive records it, else null (a gzip) */
  readonly size: number | null;
  /** uncompressed bytes in the file so far */
  readonly decoded: number;
  /** the whole stream is decoded */
  readonly complete: boolean;
  /**
   * Decodes on until the file holds the first `end` bytes, or the image ends; resolves with the bytes it holds.
   * Rejects with the decoder's error (CORRUPT_ARCHIVE) or CANCELLED.
   */
  ensure(end: number): Promise<number>;
  /** Stops decoding and deletes the file. Safe to call twice. */
  close(): Promise<void>;
}

/** what is written at a time, and skipped when all zeros (the file stays sparse where the image is empty) */
const PIECE = 64 * 1024;
const ZEROS = Buffer.alloc(PIECE);

const PREFIX = 'atlas-decoded-';

/**
 * Deletes the temporary folders of checks whose process is gone (an app killed mid-check leaves its folder
 * behind; close() never ran). A folder is named after the pid that made it; a live process's is left alone.
 */
export async function sweepLeftovers(dir: string): Promise<string[]> {
  const names = await fsp.readdir(dir).catch(() => [] as string[]);
  const swept: string[] = [];
  for (const name of names) {
    const pid = Number(new RegExp(`^${PREFIX}(\\d+)-`).exec(name)?.[1]);
    if (!pid || pid === process.pid || alive(pid)) continue;
    const folder = join(dir, name);
    const st = await fsp.lstat(folder).catch(() => null);
    // only the person's own folders, never through a link
    if (!st?.isDirectory() || (process.getuid && st.uid !== process.getuid())) continue;
    await fsp.rm(folder, { recursive: true, force: true }).then(
      () => swept.push(folder),
      () => undefined,
    );
  }
  return swept;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'; // someone else's: alive
  }
}

export async function openDecodedHead(
  source: ImageSource,
  options: { signal?: AbortSignal | undefined; dir?: string } = {},
): Promise<DecodedHead> {
  throwIfCancelled(options.signal);
  let folder: string;
  let file: FileHandle;
  // named after the image, so a message about the file names something the person knows
  const name = basename(source.entryName ?? source.path).replace(/\.(xz|gz|zst|zip)$/i, '');
  const path = (): string => join(folder, name.endsWith('.img') ? name : `${name}.img`);
  try {
    const dir = options.dir ?? tmpdir();
    await sweepLeftovers(dir);
    folder = await fsp.mkdtemp(join(dir, `${PREFIX}${process.pid}-`));
    file = await fsp.open(path(), 'wx+', 0o600);
  } catch (error) {
    throw toAtlasError(error, 'Cannot create a temporary file to look inside the archive');
  }
  if (source.size !== null) await file.truncate(source.size);
  return new Head(source, folder, path(), file, options.signal);
}

class Head implements DecodedHead {
  decoded = 0;
  complete = false;
  private wanted = 0;
  private failure: Error | null = null;
  private closing: Promise<void> | null = null;
  /** readers waiting for bytes, woken as decoding passes their end */
  private readonly waiters = new Set<{ end: number; wake: () => void }>();
  private resume: (() => void) | null = null;
  private readonly stream: SourceReadable;
  private readonly pumped: Promise<void>;

  constructor(
    private readonly source: ImageSource,
    private readonly folder: string,
    readonly path: string,
    private readonly file: FileHandle,
    signal: AbortSignal | undefined,
  ) {
    this.stream = source.createReadStream({ signal });
    this.pumped = this.pump().then(
      () => {
        this.complete = true;
      },
      (error: unknown) => {
        this.failure = toAtlasError(error);
      },
    );
    void this.pumped.finally(() => this.wakeAll());
  }

  get size(): number | null {
    return this.source.size;
  }

  async ensure(end: number): Promise<number> {
    for (;;) {
      if (this.failure) throw this.failure;
      if (this.closing) throw new AtlasError('CANCELLED', 'The operation was cancelled.');
      if (this.decoded >= end || this.complete) return this.decoded;
      this.wanted = Math.max(this.wanted, end);
      await new Promise<void>((wake) => {
        this.waiters.add({ end, wake });
        this.resume?.();
      });
    }
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.stream.destroy();
      this.resume?.();
      await this.pumped;
      await this.file.close().catch(() => undefined);
      await fsp.rm(this.folder, { recursive: true, force: true });
    })();
    return this.closing;
  }

  /** Stream → file in order, pausing (the stream then holds the decoder back) while nobody needs more. */
  private async pump(): Promise<void> {
    for await (const chunk of this.stream as AsyncIterable<Buffer>) {
      await this.write(chunk, this.decoded);
      this.decoded += chunk.length;
      this.wakeReached();
      while (this.decoded >= this.wanted && !this.closing) {
        await new Promise<void>((resume) => (this.resume = resume));
        this.resume = null;
      }
      if (this.closing) return;
    }
  }

  private async write(chunk: Buffer, position: number): Promise<void> {
    for (let at = 0; at < chunk.length; at += PIECE) {
      const piece = chunk.subarray(at, Math.min(at + PIECE, chunk.length));
      if (piece.equals(ZEROS.subarray(0, piece.length))) continue;
      await this.file.write(piece, 0, piece.length, position + at);
    }
    // an unsized image: the file reaches the decoded end even when its last pieces were zeros
    if (this.source.size === null) await this.file.truncate(position + chunk.length);
  }

  private wakeReached(): void {
    for (const waiter of this.waiters) {
      if (waiter.end <= this.decoded) {
        this.waiters.delete(waiter);
        waiter.wake();
      }
    }
  }

  private wakeAll(): void {
    for (const waiter of this.waiters) waiter.wake();
    this.waiters.clear();
  }
}

/**
 * The decoded file as a BlockFile whose reads wait for their bytes; it ends where the image ends. An image
 * of unknown size (gzip) is taken as unbounded until its stream ends: what lies past the decoded part is not
 * known yet, and the decoding tells when a read runs off the end.
 */
export async function openHeadBlockFile(head: DecodedHead): Promise<BlockFile> {
  const file = await openBlockFile(head.path);
  return {
    ...file,
    get size() {
      return head.size ?? (head.complete ? head.decoded : Number.MAX_SAFE_INTEGER);
    },
    async read(buffer, position, length = buffer.byteLength) {
      const available = await head.ensure(position + length);
      return readFullyAt(file.handle, buffer, position, Math.max(0, Math.min(length, available - position)));
    },
  };
}
