/**
 * The v2 partclone image writer. For the same filesystem its output is byte-identical to partclone 0.3.23's
 * (`partclone.<fs> -c`): descriptor, BM_BIT bitmap + CRC, then the used blocks with a CRC32 after every
 * blocks_per_checksum blocks (reseeded) and one for a final partial group (shared/docs/partclone-format.md §1).
 * The image is produced as a stream with bounded memory; the device is read in large coalesced runs.
 */
import { Readable } from 'node:stream';
import { AtlasError, destroyOnAbort, throwIfCancelled } from '../errors';
import type { UsedBlockMap } from '../fs/types';
import { countUsed, setPaddingBits, usedRuns } from '../fs/bitmap';
import { PC_CRC_SEED, pcCrc32 } from './crc';
import { ChecksumMode, V2_HEADER_SIZE, defaultBlocksPerChecksum, encodeV2Header } from './header';

/** Reads `count` blocks starting at `firstBlock` into `into` (exactly count × blockSize bytes). */
export type ReadBlocks = (firstBlock: number, count: number, into: Buffer) => Promise<void>;

export interface PartcloneWriterOptions {
  signal?: AbortSignal | undefined;
  /** Largest single read of the source (default 8 MiB). */
  readChunkBytes?: number;
  /** Free gaps up to this size between used runs are read through rather than split into two reads (256 KiB). */
  readThroughGapBytes?: number;
  /** Variants for tests and special needs; the defaults are partclone's own. */
  checksum?: 'crc32' | 'none';
  blocksPerChecksum?: number;
  reseedChecksum?: boolean;
  partcloneVersion?: string;
}

const CHECKSUM_SIZE = 4;

interface Layout {
  blockSize: number;
  usedBlocks: number;
  checksumSize: number;
  blocksPerChecksum: number;
}

function layoutOf(map: UsedBlockMap, options: PartcloneWriterOptions): Layout {
  const none = options.checksum === 'none';
  return {
    blockSize: map.blockSize,
    usedBlocks: map.usedBlocks,
    checksumSize: none ? 0 : CHECKSUM_SIZE,
    blocksPerChecksum: none ? 0 : (options.blocksPerChecksum ?? defaultBlocksPerChecksum(map.blockSize)),
  };
}

/** Exact size in bytes of the image createPartcloneImageStream produces for `map` (§1 size formula). */
export function partcloneImageSize(map: UsedBlockMap, options: PartcloneWriterOptions = {}): number {
  const l = layoutOf(map, options);
  const checksums = l.checksumSize ? Math.ceil(l.usedBlocks / l.blocksPerChecksum) : 0;
  return (
    V2_HEADER_SIZE +
    Math.ceil(map.totalBlocks / 8) +
    4 +
    l.usedBlocks * l.blockSize +
    checksums * l.checksumSize
  );
}

function checkMap(map: UsedBlockMap, options: PartcloneWriterOptions): void {
  const bad = (sentence: string) =>
    new AtlasError('INVALID_ARGUMENT', `Cannot write a partclone image: ${sentence}`);
  if (!Number.isInteger(map.blockSize) || map.blockSize <= 0 || map.blockSize > 64 * 1024 * 1024) {
    throw bad(`block size ${map.blockSize} is not valid.`);
  }
  if (!Number.isSafeInteger(map.totalBlocks) || map.totalBlocks < 0)
    throw bad(`block count ${map.totalBlocks} is not valid.`);
  if (map.bitmap.length < Math.ceil(map.totalBlocks / 8)) {
    throw bad(`the bitmap has ${map.bitmap.length} bytes, ${Math.ceil(map.totalBlocks / 8)} needed.`);
  }
  const counted = countUsed(map.bitmap, map.totalBlocks);
  if (counted !== map.usedBlocks)
    throw bad(`the map says ${map.usedBlocks} used blocks but its bitmap has ${counted}.`);
  const k = options.blocksPerChecksum;
  if (k !== undefined && options.checksum !== 'none' && (!Number.isInteger(k) || k <= 0 || k > 0xffffffff)) {
    throw bad(`blocks per checksum ${k} is not valid.`);
  }
}

/** One source read: blocks [start, end) covering the used runs listed (ascending, within the span). */
interface Span {
  start: number;
  end: number;
  runs: Array<[number, number]>;
  used: number;
}

function* spans(map: UsedBlockMap, chunkBlocks: number, gapBlocks: number): Generator<Span> {
  let span: Span | null = null;
  for (const run of usedRuns(map, chunkBlocks)) {
    let start = run.first;
    let left = run.count;
    while (left > 0) {
      if (span && (start - span.end > gapBlocks || span.end - span.start >= chunkBlocks)) {
        yield span;
        span = null;
      }
      const room: number = span ? chunkBlocks - (start - span.start) : chunkBlocks;
      if (room <= 0) {
        if (span) yield span;
        span = null;
        continue;
      }
      const n = Math.min(left, room);
      if (!span) span = { start, end: start, runs: [], used: 0 };
      span.runs.push([start, n]);
      span.end = start + n;
      span.used += n;
      start += n;
      left -= n;
    }
  }
  if (span) yield span;
}

async function* imageChunks(
  map: UsedBlockMap,
  readBlocks: ReadBlocks,
  options: PartcloneWriterOptions,
): AsyncGenerator<Buffer> {
  const l = layoutOf(map, options);
  const mode = l.checksumSize ? ChecksumMode.CRC32 : ChecksumMode.NONE;
  const reseed = options.reseedChecksum ?? true;
  yield encodeV2Header({
    fsName: map.fsName,
    totalBlocks: map.totalBlocks,
    blockSize: map.blockSize,
    usedBlocks: map.usedBlocks,
    superblockUsed: map.superblockUsed,
    checksumMode: mode,
    blocksPerChecksum: l.blocksPerChecksum,
    reseedChecksum: reseed,
    ...(options.partcloneVersion !== undefined ? { partcloneVersion: options.partcloneVersion } : {}),
  });
  // partclone leaves the padding bits at 1; the CRC covers the bytes as written
  const bitmap = Buffer.from(map.bitmap.subarray(0, Math.ceil(map.totalBlocks / 8)));
  setPaddingBits(bitmap, map.totalBlocks);
  const bitmapCrc = Buffer.alloc(4);
  bitmapCrc.writeUInt32LE(pcCrc32(bitmap));
  yield Buffer.concat([bitmap, bitmapCrc]);

  const B = map.blockSize;
  const K = l.blocksPerChecksum;
  const chunkBlocks = Math.max(1, Math.floor((options.readChunkBytes ?? 8 * 1024 * 1024) / B));
  const gapBlocks = Math.floor((options.readThroughGapBytes ?? 256 * 1024) / B);
  let crc = PC_CRC_SEED;
  let inGroup = 0;
  for (const span of spans(map, chunkBlocks, gapBlocks)) {
    throwIfCancelled(options.signal);
    const source = Buffer.allocUnsafe((span.end - span.start) * B);
    await readBlocks(span.start, span.end - span.start, source);
    throwIfCancelled(options.signal);
    const groupsClosed = K ? Math.floor((inGroup + span.used) / K) : 0;
    const out = Buffer.allocUnsafe(span.used * B + groupsClosed * l.checksumSize);
    let o = 0;
    for (const [runStart, runCount] of span.runs) {
      let at = (runStart - span.start) * B;
      let left = runCount;
      while (left > 0) {
        const n = K ? Math.min(left, K - inGroup) : left;
        const piece = source.subarray(at, at + n * B);
        if (K) crc = pcCrc32(piece, crc);
        o += piece.copy(out, o);
        at += n * B;
        left -= n;
        if (!K) continue;
        inGroup += n;
        if (inGroup === K) {
          o = out.writeUInt32LE(crc, o);
          if (reseed) crc = PC_CRC_SEED;
          inGroup = 0;
        }
      }
    }
    yield out;
  }
  if (K && inGroup > 0) {
    const last = Buffer.alloc(4);
    last.writeUInt32LE(crc);
    yield last;
  }
}

/**
 * The partclone v2 image of the filesystem described by `map`, as a byte stream. `readBlocks` reads the
 * filesystem (partition or image file) by block number; it is called with ascending, non-overlapping
 * ranges of up to readChunkBytes. Memory stays around two chunks whatever the filesystem size.
 */
export function createPartcloneImageStream(
  map: UsedBlockMap,
  readBlocks: ReadBlocks,
  options: PartcloneWriterOptions = {},
): Readable {
  checkMap(map, options);
  const stream = Readable.from(imageChunks(map, readBlocks, options), {
    objectMode: false,
    highWaterMark: 8 * 1024 * 1024,
  });
  destroyOnAbort(stream, options.signal);
  return stream;
}
