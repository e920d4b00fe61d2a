/**
 * Worker thread of the parallel gunzip (gunzip-parallel.ts): reads and inflates one region of a gzip file per
 * message.
 * A region must be whole gzip members, end to end: each member's deflate data is inflated to its end, then its
 * CRC-32 and ISIZE trailer must match what came out, and the next member (or the region's end) must follow
 * right after. Anything else is reported, never guessed around: `short` when the region ends inside a member
 * (it was cut at a false header: the caller joins it with the next region), `bad` when the data is wrong,
 * `large` past the output cap. Loaded from the compiled file next to gunzip-parallel.js.
 *
 * The output goes into memory the reading thread hands back once it has read it (`recycle`), not into fresh
 * buffers: inflating into fresh pages took twice the CPU (a page fault per 4 KiB, and every freed buffer unmapped
 * across threads: measured 3.2–4.1 s against 1.9–2.0 s for 1.4 GB of our clone's members on the CI box). zlib's
 * public API has no way to inflate into a given buffer, so the member is inflated through the engine's own
 * handle (`_handle.writeSync`, what inflateRawSync itself calls); where a Node lacks it, inflateRawSync as before.
 */
import { readSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { constants, createInflateRaw, inflateRawSync, type InflateRaw } from 'node:zlib';
import { crc32 } from '../io/crc32';

export interface InflateJob {
  id: number;
  /** the file, open in the thread that posts the job (descriptors are the process's) */
  fd: number;
  /** the region: its first byte in the file and its length */
  start: number;
  length: number;
  /** the region runs to the end of the file: zero padding after its last member is allowed (as gzip does) */
  last: boolean;
  /** most output bytes the region may give */
  maxOutput: number;
}

/** Output memory the reading thread has read and hands back for the next regions. */
export interface RecycleMessage {
  recycle: ArrayBuffer;
}

export type InflateReply =
  | { id: number; ok: true; data: Uint8Array }
  | { id: number; ok: false; reason: 'short' | 'bad' | 'large'; message: string };

class RegionError extends Error {
  constructor(
    readonly reason: 'short' | 'bad' | 'large',
    message: string,
  ) {
    super(message);
  }
}

const FEXTRA = 4;
const FNAME = 8;
const FCOMMENT = 16;
const FHCRC = 2;

/** Length of the gzip member header at `at` (RFC 1952 §2.3). */
function headerLength(d: Buffer, at: number): number {
  if (d.length - at < 10) throw new RegionError('short', 'the data ends inside a gzip header');
  if (d[at] !== 0x1f || d[at + 1] !== 0x8b || d[at + 2] !== 8) {
    throw new RegionError('bad', `no gzip header at byte ${at} of the region`);
  }
  const flags = d[at + 3]!;
  if (flags & 0xe0) throw new RegionError('bad', 'reserved gzip header flags are set');
  let p = at + 10;
  if (flags & FEXTRA) {
    if (p + 2 > d.length) throw new RegionError('short', 'the data ends inside a gzip header');
    p += 2 + d.readUInt16LE(p);
  }
  for (const flag of [FNAME, FCOMMENT]) {
    if (flags & flag) {
      const nul = d.indexOf(0, p);
      if (nul < 0) throw new RegionError('short', 'the data ends inside a gzip header');
      p = nul + 1;
    }
  }
  if (flags & FHCRC) {
    if (p + 2 > d.length) throw new RegionError('short', 'the data ends inside a gzip header');
    if (d.readUInt16LE(p) !== (crc32(d.subarray(at, p)) & 0xffff)) {
      throw new RegionError('bad', 'gzip header CRC mismatch');
    }
    p += 2;
  }
  if (p > d.length) throw new RegionError('short', 'the data ends inside a gzip header');
  return p - at;
}

function allZero(d: Buffer, from: number): boolean {
  for (let i = from; i < d.length; i++) if (d[i] !== 0) return false;
  return true;
}

/** A member's deflate data is not whole, or its output does not fit in the memory given. */
class NoRoom extends Error {}

/** The zlib engine's own handle: writeSync(flush, in, inOff, inLen, out, outOff, outLen), state [outLeft, inLeft]. */
interface EngineHandle {
  writeSync(
    flush: number,
    input: Uint8Array,
    inOff: number,
    inLen: number,
    out: Uint8Array,
    outOff: number,
    outLen: number,
  ): void;
}
interface OpenEngine {
  handle: EngineHandle;
  state: Uint32Array;
  engine: InflateRaw;
}

function openEngine(): OpenEngine | null {
  const engine = createInflateRaw();
  const inner = engine as unknown as { _handle?: Partial<EngineHandle>; _writeState?: unknown };
  const handle = inner._handle;
  const state = inner._writeState;
  if (typeof handle?.writeSync !== 'function' || !(state instanceof Uint32Array)) {
    engine.close();
    return null;
  }
  engine.on('error', () => undefined); // read synchronously below (errored); the event comes later
  return { handle: handle as EngineHandle, state, engine };
}

/** Inflating into given memory works in this Node (the tests check it does where the app runs). */
export function inflatesInPlace(): boolean {
  const opened = openEngine();
  opened?.engine.close();
  return opened !== null;
}

/**
 * Inflates the raw deflate data starting at `body` of `d` into out[at, end): returns the output length and the
 * input consumed. NoRoom when the output would not fit; RegionError for data that is cut short or wrong.
 */
function inflateMemberInto(
  d: Buffer,
  body: number,
  out: Uint8Array,
  at: number,
): { produced: number; consumed: number } {
  const opened = openEngine();
  if (!opened) throw new NoRoom('no engine handle');
  const { handle, state, engine } = opened;
  try {
    const inLen = d.length - body;
    const outLen = out.length - at;
    handle.writeSync(constants.Z_FINISH, d, body, inLen, out, at, outLen);
    const error = engine.errored as NodeJS.ErrnoException | null;
    if (error) {
      if (error.code === 'Z_BUF_ERROR') throw new RegionError('short', 'the data ends inside a gzip member');
      throw new RegionError('bad', error.message);
    }
    // all the room used: the member may go on past it (a full buffer at its very end is read as no room too)
    if (state[0] === 0) throw new NoRoom('the output does not fit');
    return { produced: outLen - state[0]!, consumed: inLen - state[1]! };
  } finally {
    engine.close();
  }
}

/**
 * Walks the region's members end to end: `inflate` gives each member's output (its deflate data starts at
 * `body`; `total` bytes came out before it) and the input it took; each trailer is checked, and the region's
 * output capped. Returns the region's output length. Throws RegionError (or what `inflate` throws).
 */
function eachMember(
  d: Buffer,
  last: boolean,
  maxOutput: number,
  inflate: (body: number, total: number) => { data: Uint8Array; consumed: number },
): number {
  let total = 0;
  let at = 0;
  do {
    const body = at + headerLength(d, at);
    const { data, consumed } = inflate(body, total);
    if (total + data.length > maxOutput) throw new RegionError('large', 'the region inflates past its cap');
    const end = body + consumed;
    if (end + 8 > d.length) throw new RegionError('short', 'the data ends inside a gzip trailer');
    if (d.readUInt32LE(end) !== crc32(data)) throw new RegionError('bad', 'incorrect data check (CRC-32)');
    if (d.readUInt32LE(end + 4) !== data.length % 2 ** 32) {
      throw new RegionError('bad', 'incorrect length check (ISIZE)');
    }
    total += data.length;
    at = end + 8;
  } while (at < d.length && !(last && allZero(d, at)));
  return total;
}

/** Inflates every member of the region into `out` (from its start): the output's length. NoRoom when too small. */
function inflateRegionInto(d: Buffer, last: boolean, maxOutput: number, out: Uint8Array): number {
  return eachMember(d, last, maxOutput, (body, total) => {
    const { produced, consumed } = inflateMemberInto(d, body, out, total);
    return { data: out.subarray(total, total + produced), consumed };
  });
}

/** Inflates every member of the region into fresh memory, checking each trailer; throws RegionError. */
export function inflateRegion(d: Buffer, last: boolean, maxOutput: number): Buffer {
  const out: Buffer[] = [];
  // The region's last 4 bytes are its last member's ISIZE: for the usual one-member region, an output buffer of
  // exactly that size is filled without a copy (and handed back without one).
  const hint = Math.min(maxOutput, Math.max(64 * 1024, d.length >= 4 ? d.readUInt32LE(d.length - 4) : 0));
  const total = eachMember(d, last, maxOutput, (body, before) => {
    let inflated: { buffer: Buffer; engine: { bytesWritten: number } };
    try {
      inflated = inflateRawSync(d.subarray(body), {
        info: true,
        chunkSize: hint,
        maxOutputLength: Math.max(1, maxOutput - before),
      }) as unknown as typeof inflated;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'Z_BUF_ERROR') throw new RegionError('short', 'the data ends inside a gzip member');
      if (code === 'ERR_BUFFER_TOO_LARGE') throw new RegionError('large', 'the region inflates past its cap');
      throw new RegionError('bad', (error as Error).message);
    }
    out.push(inflated.buffer);
    return { data: inflated.buffer, consumed: inflated.engine.bytesWritten };
  });
  return out.length === 1 ? out[0]! : Buffer.concat(out, total);
}

/** The buffer itself when it owns its whole ArrayBuffer (so it can be transferred), else a copy that does. */
function owned(b: Buffer): Uint8Array {
  if (b.byteOffset === 0 && b.byteLength === b.buffer.byteLength) return b;
  return new Uint8Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

/** The compressed bytes of the job at hand: one buffer, grown as needed, so each region is not new memory. */
let regionBuffer = Buffer.alloc(0);

function readRegion(job: InflateJob): Buffer {
  if (regionBuffer.length < job.length) regionBuffer = Buffer.allocUnsafeSlow(job.length);
  const d = regionBuffer.subarray(0, job.length);
  let got = 0;
  while (got < job.length) {
    const n = readSync(job.fd, d, got, job.length - got, job.start + got);
    if (n === 0) throw new RegionError('short', 'the file ends inside the region');
    got += n;
  }
  return d;
}

/** Memory handed back (RecycleMessage), kept for the next regions; a few regions' worth at most. */
const spare: ArrayBuffer[] = [];
const MAX_SPARE = 4;
/** Room past the output a region is expected to give, so a member ending exactly at the end still fits. */
const SLACK = 64 * 1024;

/**
 * The region inflated into recycled memory where it fits (a spare as large as its last member's ISIZE says a
 * one-member region gives, or a new one of that size), else into fresh memory (several members, a wrong ISIZE).
 */
function inflateJob(d: Buffer, job: InflateJob): Uint8Array {
  const expected = d.length >= 4 ? d.readUInt32LE(d.length - 4) : 0;
  const want = Math.min(job.maxOutput, expected) + SLACK;
  const k = spare.findIndex((m) => m.byteLength >= want);
  const memory = k >= 0 ? spare.splice(k, 1)[0]! : new ArrayBuffer(want);
  try {
    const length = inflateRegionInto(d, job.last, job.maxOutput, new Uint8Array(memory));
    return new Uint8Array(memory, 0, length);
  } catch (error) {
    if (spare.length < MAX_SPARE) spare.push(memory);
    if (!(error instanceof NoRoom)) throw error;
    return owned(inflateRegion(d, job.last, job.maxOutput));
  }
}

parentPort?.on('message', (message: InflateJob | RecycleMessage) => {
  if ('recycle' in message) {
    if (spare.length < MAX_SPARE) spare.push(message.recycle);
    return;
  }
  const job = message;
  let reply: InflateReply;
  try {
    const data = inflateJob(readRegion(job), job);
    reply = { id: job.id, ok: true, data };
    parentPort!.postMessage(reply, [data.buffer as ArrayBuffer]);
    return;
  } catch (error) {
    reply =
      error instanceof RegionError
        ? { id: job.id, ok: false, reason: error.reason, message: error.message }
        : { id: job.id, ok: false, reason: 'bad', message: (error as Error).message };
  }
  parentPort!.postMessage(reply);
});
