/**
 * Check this card: does it hold what it claims? Cheap bulk cards often lie about their size: a "64 GB" card
 * holds 8 GB and wraps every write past that onto the start (or drops it). A full write and read-back proves it
 * but takes as long as flashing the whole card; this probes instead, in seconds (after f3probe's idea, our own
 * code):
 *
 *  1. pick probe places spread over the claimed capacity (every power of two from 1 MiB, and evenly spaced ones);
 *  2. read what each holds now (kept in memory);
 *  3. write a marker naming its own offset and this run to each, in increasing order, and flush;
 *  4. read every probe back with the cache bypassed: a probe that reads another probe's marker shows where the
 *     card wraps; one that reads neither bounds the real capacity;
 *  5. put the original bytes back, highest offset first (so on a wrapping card the real places get their own
 *     bytes last), flush, and read them back to confirm.
 *
 * The card's contents are kept: only the probes' few KiB are written, and they are restored. If the card is
 * pulled out during the check, those places may keep the markers; the result says so when a restore fails.
 */
import { randomBytes } from 'node:crypto';
import { AtlasError, throwIfCancelled, toAtlasError } from '../errors';
import { ProgressMeter, type JobControl } from '../progress';
import { fullSync } from '../io/cache';
import { alignedBuffer, dropDeviceCache, readFully, writeFully, type DirectDevice } from '../io/direct';

const MIB = 1024 * 1024;
/** Evenly spaced probes besides the powers of two. */
const SPREAD = 32;
const MAGIC = 'ATLAS-CARD-PROBE';

export type CardVerdict =
  /** every probe read back its own marker */
  | 'genuine'
  /** some probes read back another probe's marker or nothing: the card holds less than it claims */
  | 'fake';

export interface CheckCardResult {
  device: string;
  claimedBytes: number;
  verdict: CardVerdict;
  /** the most the card can really hold (the lowest failing probe), null when genuine */
  realBytesAtMost: number | null;
  /** the highest probe below that which held its marker */
  realBytesAtLeast: number | null;
  /** set when a probe read another probe's marker: writes past this many bytes land at the start again */
  wrapsAt: number | null;
  probes: number;
  /** the original bytes were put back and read back equal */
  restored: boolean;
  seconds: number;
}

/** The probe offsets for a card of `size` bytes with `sector`-byte sectors, ascending, each sector-aligned. */
export function probeOffsets(size: number, sector: number): number[] {
  const last = Math.floor((size - probeLength(sector)) / sector) * sector;
  const offsets = new Set<number>();
  for (let p = MIB; p <= last; p *= 2) offsets.add(p);
  for (let i = 1; i < SPREAD; i++) {
    const at = Math.floor((size * i) / SPREAD / sector) * sector;
    if (at >= MIB && at <= last) offsets.add(at);
  }
  offsets.add(last);
  return [...offsets].sort((a, b) => a - b);
}

function probeLength(sector: number): number {
  return Math.max(sector, 4096);
}

function marker(run: Buffer, offset: number, length: number): Buffer {
  const b = Buffer.alloc(length);
  const head = `${MAGIC} ${offset} `;
  b.write(head, 0, 'latin1');
  run.copy(b, head.length);
  // the rest: bytes derived from the offset, so a marker that lands elsewhere never matches by chance
  for (let i = head.length + run.length; i < length; i++) b[i] = (offset / 4096 + i * 131) & 0xff;
  return b;
}

/** The offset named by a marker of this run, or null when `data` is not one. */
function markerOffset(data: Buffer, run: Buffer): number | null {
  const text = data.subarray(0, 64).toString('latin1');
  const m = /^ATLAS-CARD-PROBE (\d+) /.exec(text);
  if (!m) return null;
  const offset = Number(m[1]);
  return data.equals(marker(run, offset, data.length)) ? offset : null;
}

/**
 * Probes `dev` (opened for writing with the cache bypassed, as the helper opens a card) and reports whether it
 * holds what it claims. Never throws for a fake card: that is the answer, not an error.
 */
export async function checkCard(dev: DirectDevice, control: JobControl = {}): Promise<CheckCardResult> {
  const { signal } = control;
  const started = performance.now();
  const length = probeLength(dev.sectorSize);
  if (dev.size < 2 * MIB) {
    throw new AtlasError('INVALID_ARGUMENT', `${dev.path} is too small to check (${dev.size} bytes).`);
  }
  const offsets = probeOffsets(dev.size, dev.sectorSize);
  const run = randomBytes(16);
  const buffer = alignedBuffer(length, [dev]);
  // four passes over the probes: read, write, read back, restore
  const meter = new ProgressMeter('checking card', offsets.length * 4 * length, control.onProgress);
  const io = async (doing: string, at: number, op: () => Promise<unknown>): Promise<void> => {
    throwIfCancelled(signal);
    try {
      await op();
    } catch (error) {
      throw toAtlasError(error, `${doing} ${dev.path} at byte ${at}`);
    }
    meter.add(length);
  };

  const originals: Buffer[] = [];
  for (const at of offsets) {
    await io('Reading', at, async () => {
      await readFully(dev, buffer, length, at);
      originals.push(Buffer.from(buffer.subarray(0, length)));
    });
  }
  let restored: boolean;
  const readBack: Array<number | null | 'own'> = [];
  try {
    for (const at of offsets) {
      await io('Writing', at, () => {
        marker(run, at, length).copy(buffer);
        return writeFully(dev, buffer, length, at);
      });
    }
    await fullSync(dev.handle);
    await dropDeviceCache(dev);
    for (const at of offsets) {
      await io('Reading back', at, async () => {
        await readFully(dev, buffer, length, at);
        const found = markerOffset(buffer.subarray(0, length), run);
        readBack.push(found === at ? 'own' : found);
      });
    }
  } finally {
    restored = await restore(dev, offsets, originals, buffer, length, meter).catch(() => false);
  }
  meter.finish();

  return {
    device: dev.path,
    claimedBytes: dev.size,
    ...judge(offsets, readBack, length),
    probes: offsets.length,
    restored,
    seconds: (performance.now() - started) / 1000,
  };
}

/**
 * The verdict from what each probe read back. A probe that reads a higher probe's marker was overwritten by a
 * write that wrapped around: the card's real size divides the distance, so it is the greatest common divisor
 * of those distances, and the low probes that failed are victims of the wrap, not the card's end. Without a
 * wrap, the lowest probe that lost its marker bounds the real size.
 */
export function judge(
  offsets: number[],
  readBack: ReadonlyArray<number | null | 'own'>,
  length: number,
): Pick<CheckCardResult, 'verdict' | 'realBytesAtMost' | 'realBytesAtLeast' | 'wrapsAt'> {
  let wrapsAt: number | null = null;
  readBack.forEach((r, i) => {
    if (typeof r === 'number' && r > offsets[i]!) wrapsAt = gcd(wrapsAt ?? 0, r - offsets[i]!);
  });
  const firstBad = readBack.findIndex((r) => r !== 'own');
  if (firstBad < 0)
    return { verdict: 'genuine', realBytesAtMost: null, realBytesAtLeast: null, wrapsAt: null };
  const limit = wrapsAt ?? offsets[firstBad]!;
  const below = offsets.filter((at, i) => at + length <= limit && readBack[i] === 'own');
  return {
    verdict: 'fake',
    realBytesAtMost: limit,
    realBytesAtLeast: below.length ? below.at(-1)! + length : 0,
    wrapsAt,
  };
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

async function restore(
  dev: DirectDevice,
  offsets: number[],
  originals: Buffer[],
  buffer: Buffer,
  length: number,
  meter: ProgressMeter,
): Promise<boolean> {
  for (let i = originals.length - 1; i >= 0; i--) {
    originals[i]!.copy(buffer);
    await writeFully(dev, buffer, length, offsets[i]!);
    meter.add(length);
  }
  await fullSync(dev.handle);
  await dropDeviceCache(dev);
  // on a wrapping card the high probes share their place with a low one: the low one's bytes are what is there
  for (let i = 0; i < originals.length; i++) {
    await readFully(dev, buffer, length, offsets[i]!);
    if (!buffer.subarray(0, length).equals(originals[i]!)) {
      const twin = originals.findIndex((o) => buffer.subarray(0, length).equals(o));
      if (twin < 0) return false;
    }
  }
  return true;
}
