/**
 * Parallel gunzip of a gzip file. Our clones are multi-member gzip (gzip-writer.ts: one member per 4 MiB of
 * image), so their members can be inflated side by side on worker threads, which a single-stream tool such as
 * `pigz -dc` cannot do.
 *
 * The file is read ahead and cut into regions at every place that looks like a member header (`1f 8b 08`
 * with plausible flags, XFL and OS bytes); each worker reads its region itself. Such a place may be a false one inside deflate data, so nothing is
 * trusted until proven: a worker inflates a region member by member to each member's end and checks its
 * CRC-32 and ISIZE trailer, and a region counts only when its members end exactly where the next region
 * starts, and it starts where the one before ended. A region cut short by a false header is joined with the
 * next and inflated again. The output is given out in file order; how far the file is read ahead is bounded
 * by the regions in the works and by what the reader has not taken yet (back-pressure).
 *
 * The memory a region was inflated into goes back to its worker once the reader has read it (recycle(); the
 * partclone reader says when, see its `release` option): the worker inflates the next regions into pages already
 * mapped (gunzip-worker.ts says what that saves). Memory given back is transferred, so a view of it the reader
 * still held would read as empty, never as another region's bytes.
 *
 * What cannot be split this way (a single-member file from pigz, a member larger than the window, a damaged
 * or truncated member) is read on from the last proven member boundary by the serial gunzip, which also gives
 * the error a person reads. So every file reads exactly as the serial gunzip would read it, only faster.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import { AtlasError, destroyOnAbort, toAtlasError } from '../errors';
import { gunzipFile } from './gunzip-stream';
import type { InflateJob, InflateReply, RecycleMessage } from './gunzip-worker';

export interface ParallelGunzipOptions {
  /** worker threads, default the available cores */
  workers?: number;
  /** compressed bytes a region may reach (joins included) before the rest is read serially; default 16 MiB */
  windowBytes?: number;
  /** bytes one region may inflate to before the rest is read serially; default 64 MiB */
  maxRegionOutput?: number;
  /** bytes per file read; default 1 MiB */
  readBytes?: number;
  signal?: AbortSignal | undefined;
  /** how messages name the file (default its path) */
  name?: string;
}

/** A stretch of the compressed file from one apparent member header to the next (or to the end). */
interface Region {
  start: number;
  end: number;
  /** it runs to the end of the file */
  last: boolean;
  /** the job inflating it now (0: not posted) */
  job: number;
  reply?: InflateReply;
}

interface Slot {
  worker: Worker;
  jobs: number;
}

/** The bytes of a member header we look at: magic, method, flags, mtime, XFL, OS. */
const HEADER_PROBE = 10;
/** Jobs queued on one worker: one running, one waiting, so a worker never idles between messages. */
const JOBS_PER_WORKER = 2;
/**
 * Inflating workers by default: one per core, at most 3 (each is a V8 heap of its own, ~20 MiB). The reading
 * thread's own share is small beside inflating (restore takes the runs as views and hashes inline), so on two
 * cores two workers inflate while it parses, hashes and writes in their gaps.
 */
const DEFAULT_WORKERS = Math.min(3, Math.max(1, availableParallelism()));

/** A plausible gzip member header at `i`: deflate, no reserved flags, a known XFL and OS byte. */
export function looksLikeMember(b: Buffer, i: number): boolean {
  if (i + HEADER_PROBE > b.length) return false;
  if (b[i] !== 0x1f || b[i + 1] !== 0x8b || b[i + 2] !== 8 || (b[i + 3]! & 0xe0) !== 0) return false;
  const xfl = b[i + 8]!;
  const os = b[i + 9]!;
  return (xfl === 0 || xfl === 2 || xfl === 4) && (os <= 13 || os === 255);
}

class ParallelGunzip extends Readable {
  private readonly maxWorkers: number;
  private readonly window: number;
  private readonly maxOutput: number;
  private readonly readBytes: number;
  private readonly maxAhead: number;
  private readonly name: string;
  private handle: FileHandle | null = null;
  private fileSize = 0;
  /** regions found, in file order, not given out yet; the first always starts at a proven member boundary */
  private readonly ahead: Region[] = [];
  /** the region being read (null once the file is read to its end) */
  private building: Region | null = newRegion(0);
  private readPos = 0;
  private scanBuffer: Buffer | null = null;
  private reading = false;
  /** the building region outgrew the window: the file is read serially from its start */
  private overflow = false;
  private readonly slots: Slot[] = [];
  private readonly jobs = new Map<number, { region: Region; slot: Slot }>();
  private nextJob = 1;
  private serial: Readable | null = null;
  /** the reader asked for data (_read) and has not been given any since */
  private wanted = false;
  private pumpQueued = false;
  private shuttingDown = false;
  private done = false;
  /** memory given out that a worker inflated into, and the worker it goes back to */
  private readonly lent = new WeakMap<ArrayBufferLike, Slot>();

  constructor(
    private readonly path: string,
    options: ParallelGunzipOptions,
  ) {
    super({ highWaterMark: 1024 * 1024 });
    this.maxWorkers = Math.max(1, options.workers ?? DEFAULT_WORKERS);
    this.window = options.windowBytes ?? 16 * 1024 * 1024;
    this.maxOutput = options.maxRegionOutput ?? 64 * 1024 * 1024;
    this.readBytes = Math.max(64 * 1024, options.readBytes ?? 1024 * 1024);
    this.maxAhead = this.maxWorkers * JOBS_PER_WORKER + 2;
    this.name = options.name ?? path;
    destroyOnAbort(this, options.signal);
  }

  override _construct(callback: (error?: Error | null) => void): void {
    open(this.path, 'r').then(
      async (handle) => {
        this.handle = handle;
        this.fileSize = (await handle.stat()).size;
        callback();
      },
      (error: unknown) => callback(toAtlasError(error, `Cannot open ${this.name}`)),
    );
  }

  override _read(): void {
    if (this.serial) {
      this.serial.resume();
      return;
    }
    this.wanted = true;
    // not from inside read(): a chunk pushed there is joined (copied) with the one it is about to return
    if (!this.pumpQueued) {
      this.pumpQueued = true;
      process.nextTick(() => {
        this.pumpQueued = false;
        this.pump();
      });
    }
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.stopParallel();
    this.serial?.destroy();
    callback(error);
  }

  /**
   * The reader is done with `memory` (the buffer behind chunks it was given): it goes back to the worker that
   * inflated into it. Memory this stream did not lend is ignored.
   */
  recycle(memory: ArrayBufferLike): void {
    const slot = this.lent.get(memory);
    if (!slot) return;
    this.lent.delete(memory);
    if (this.shuttingDown || !this.slots.includes(slot) || memory.byteLength === 0) return;
    const message: RecycleMessage = { recycle: memory as ArrayBuffer };
    slot.worker.postMessage(message, [memory as ArrayBuffer]);
  }

  /** Gives out what is ready in order, posts what is found to the workers, and reads on when there is room. */
  private pump(): void {
    if (this.serial || this.done || this.destroyed) return;
    while (this.wanted && this.ahead[0]?.reply) {
      const region = this.ahead[0];
      const reply = region.reply!;
      if (reply.ok) {
        this.ahead.shift();
        if (reply.data.byteLength > 0) {
          // one region's output per read: the reader takes it as it is, without joining chunks (regions
          // smaller than the high-water mark may still be read joined: a copy, whose parts are not recycled)
          this.wanted = false;
          this.push(Buffer.from(reply.data.buffer, reply.data.byteOffset, reply.data.byteLength));
        }
        continue;
      }
      const next = this.retry(region, reply.reason);
      if (next === 'serial') return this.toSerial(region.start);
      break; // joined and posted again, or waiting for the next region to be found
    }
    if (this.ahead.length === 0 && this.building === null) {
      this.done = true;
      this.stopParallel();
      this.push(null);
      return;
    }
    if (this.ahead.length === 0 && this.overflow) return this.toSerial(this.building!.start);
    // only the first regions are inflated ahead of the reader: that bounds the output held
    for (const region of this.ahead.slice(0, this.maxAhead)) {
      if (region.job === 0 && !region.reply && !this.post(region)) break;
    }
    if (!this.reading && this.building && !this.overflow && this.ahead.length < this.maxAhead) {
      void this.readMore();
    }
  }

  /**
   * The first region failed. Cut short (it ended at a false header): join it with the next region and inflate
   * again, or wait until the next region is found. Anything else is for the serial gunzip to read and report.
   */
  private retry(region: Region, reason: 'short' | 'bad' | 'large'): 'joined' | 'wait' | 'serial' {
    if (reason !== 'short') return 'serial';
    const next = this.ahead[1];
    if (!next) return this.building && !this.overflow ? 'wait' : 'serial';
    if (next.end - region.start > this.window) return 'serial';
    // the next region started at the false header; its own job's reply lands on a region no longer ahead
    region.end = next.end;
    region.last = next.last;
    region.job = 0;
    delete region.reply;
    this.ahead.splice(1, 1);
    return 'joined';
  }

  private async readMore(): Promise<void> {
    const handle = this.handle!;
    this.reading = true;
    try {
      const n = Math.min(this.readBytes, this.fileSize - this.readPos);
      // only scanned here, so one buffer serves every read
      this.scanBuffer ??= Buffer.allocUnsafeSlow(this.readBytes);
      const chunk = this.scanBuffer;
      const { bytesRead } = await handle.read(chunk, 0, n, this.readPos);
      if (this.handle !== handle) return; // the parallel path was stopped meanwhile
      // a file that shrank while read ends here; the members decide whether it is whole
      if (bytesRead < n) this.fileSize = this.readPos + bytesRead;
      this.scan(chunk.subarray(0, bytesRead));
    } catch (error) {
      if (this.handle === handle) this.destroy(toAtlasError(error, `Cannot read ${this.name}`));
      return;
    } finally {
      this.reading = false;
    }
    this.pump();
  }

  /** Cuts the building region at every apparent member header in `chunk` (read at `readPos`). */
  private scan(chunk: Buffer): void {
    if (this.destroyed || !this.building) return;
    const atEnd = this.readPos + chunk.length >= this.fileSize;
    // the last bytes of a chunk are looked at again with the next read, so a header across two reads is seen
    const owned = atEnd ? chunk.length : chunk.length - (HEADER_PROBE - 1);
    let building = this.building;
    for (let i = chunk.indexOf(0x1f); i >= 0 && i < owned; i = chunk.indexOf(0x1f, i + 1)) {
      if (this.readPos + i === building.start || !looksLikeMember(chunk, i)) continue;
      building.end = this.readPos + i;
      this.ahead.push(building);
      building = newRegion(this.readPos + i);
    }
    building.end = this.readPos + owned;
    this.readPos += owned;
    if (atEnd) {
      building.last = true;
      this.ahead.push(building);
      this.building = null;
    } else {
      this.building = building;
      if (building.end - building.start > this.window) this.overflow = true;
    }
  }

  private post(region: Region): boolean {
    const slot = this.freeSlot();
    if (!slot) return false;
    const id = this.nextJob++;
    region.job = id;
    this.jobs.set(id, { region, slot });
    slot.jobs++;
    slot.worker.ref(); // keep the process alive while a region is being inflated
    // the worker reads the region itself (from the page cache, just read here): the copy is off this thread
    const job: InflateJob = {
      id,
      fd: this.handle!.fd,
      start: region.start,
      length: region.end - region.start,
      last: region.last,
      maxOutput: this.maxOutput,
    };
    slot.worker.postMessage(job);
    return true;
  }

  private freeSlot(): Slot | undefined {
    const free = this.slots.filter((s) => s.jobs < JOBS_PER_WORKER).sort((a, b) => a.jobs - b.jobs)[0];
    if (free && free.jobs === 0) return free;
    if (this.slots.length < this.maxWorkers) return this.spawn();
    return free;
  }

  private spawn(): Slot {
    // the compiled worker sits next to this file
    const worker = new Worker(join(__dirname, 'gunzip-worker.js'));
    const slot: Slot = { worker, jobs: 0 };
    worker.on('message', (reply: InflateReply) => this.onReply(slot, reply));
    worker.on('error', (error) =>
      this.destroy(
        new AtlasError('INTERNAL', `gunzip worker failed: ${error.message}`, {}, { cause: error }),
      ),
    );
    worker.on('exit', (code) => {
      if (!this.shuttingDown) {
        this.destroy(new AtlasError('INTERNAL', `gunzip worker stopped unexpectedly (exit code ${code}).`));
      }
    });
    this.slots.push(slot);
    return slot;
  }

  private onReply(slot: Slot, reply: InflateReply): void {
    slot.jobs--;
    if (slot.jobs === 0) slot.worker.unref(); // an idle worker must not keep the process alive
    const job = this.jobs.get(reply.id);
    this.jobs.delete(reply.id);
    if (!job || job.region.job !== reply.id) return this.pump();
    job.region.reply = reply;
    if (reply.ok) this.lent.set(reply.data.buffer, slot);
    this.pump();
  }

  /** Reads the rest of the file from `from`, a proven member boundary, with the serial gunzip. */
  private toSerial(from: number): void {
    this.stopParallel();
    const gunzip = gunzipFile(this.path, { start: from, name: this.name });
    this.serial = gunzip;
    gunzip.on('error', (error) => this.destroy(error));
    gunzip.on('data', (data: Buffer) => {
      if (!this.push(data)) gunzip.pause();
    });
    gunzip.on('end', () => this.push(null));
  }

  /**
   * Stops the workers and drops what the parallel path holds. The file handle is closed only once every worker
   * has stopped: they read through its descriptor number, which must not be reused under a read in flight.
   */
  private stopParallel(): void {
    this.shuttingDown = true;
    const stopped = Promise.all(this.slots.map((slot) => slot.worker.terminate()));
    this.slots.length = 0;
    this.jobs.clear();
    this.ahead.length = 0;
    this.building = null;
    const handle = this.handle;
    this.handle = null;
    void stopped
      .catch(() => undefined)
      .then(() => handle?.close())
      .catch(() => undefined);
  }
}

function newRegion(start: number): Region {
  return { start, end: start, last: false, job: 0 };
}

/** Where `stream` is a parallel gunzip, how its reader hands back memory it has read (see recycle()). */
export function recyclerOf(stream: Readable): ((memory: ArrayBufferLike) => void) | undefined {
  return stream instanceof ParallelGunzip ? (memory) => stream.recycle(memory) : undefined;
}

/**
 * A Readable of the decompressed bytes of the gzip file at `path` (single- or multi-member). Errors are the
 * serial gunzip's AtlasErrors (TRUNCATED, CORRUPT_ARCHIVE), CANCELLED on abort; destroying it stops its
 * workers, and once it has ended or been destroyed no thread is left behind.
 */
export function createParallelGunzip(path: string, options: ParallelGunzipOptions = {}): Readable {
  return new ParallelGunzip(path, options);
}
