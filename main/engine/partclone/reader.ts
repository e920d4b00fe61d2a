/**
 * Streaming reader for partclone images, v1 ("0001") and v2 ("0002"): header and bitmap first, then the used
 * blocks in ascending order as large runs, every checksum verified before the run that it covers is handed out
 * (shared/docs/partclone-format.md §1.6 and §2). Works on any byte stream, so a gunzip output is fine.
 */
import type { Readable } from 'node:stream';
import { AtlasError, throwIfCancelled, toAtlasError } from '../errors';
import { openMaybeGzipped } from '../compress/gunzip';
import { countUsed, setPaddingBits, usedRuns } from '../fs/bitmap';
import { byteMapToBitmap } from './bitmap';
import { PC_CRC_SEED, pcCrc32, pcCrc32FirstByteQuirk } from './crc';
import {
  BitmapMode,
  ChecksumMode,
  V1_BITMAP_MAGIC,
  VERSION_PROBE_SIZE,
  bitmapByteLength,
  checksumModeName,
  decodeHeader,
  detectFormatVersion,
  type PartcloneHeader,
} from './header';

export interface PartcloneRun {
  firstBlock: number;
  count: number;
  /** count × blockSize bytes */
  data: Buffer;
}

export interface PartcloneReaderOptions {
  signal?: AbortSignal | undefined;
  /** Largest run handed out (default 8 MiB). */
  maxRunBytes?: number;
  /** Check the data checksums (default true). Without it XXH images can be read too. */
  verify?: boolean;
  /**
   * Hand out views of the decoded stream instead of copies (default false): runs then come in pieces (they end
   * where the source's chunks do), and each holds its chunk alive. For a consumer that copies the data on anyway
   * (restore gathers it into aligned buffers), this saves a copy into fresh memory per block.
   */
  views?: boolean;
  /**
   * Views only: called with the memory behind the source's chunks once no run handed out still views it, so the
   * source can reuse it (gunzip-parallel.ts recycle). A run's data may then be used only until the next run is
   * asked for.
   */
  release?: (memory: ArrayBufferLike) => void;
}

export interface PartcloneStreamReader {
  header: PartcloneHeader;
  /** BM_BIT form whatever the file stored (LSB-first, padding bits set to 1) */
  bitmap: Uint8Array;
  /** set bits in the bitmap: the number of blocks the data stream holds */
  usedBlocks: number;
  /** byte offset of the first data block in the (uncompressed) image */
  dataOffset: number;
  /** the exact size the uncompressed image must have */
  imageSize: number;
  /** The used blocks; may be iterated once. Throws CHECKSUM_MISMATCH, TRUNCATED or CORRUPT_ARCHIVE. */
  runs(): AsyncGenerator<PartcloneRun>;
  /** Stops reading and releases the source (call when not iterating runs to the end). */
  close(): Promise<void>;
}

const MAX_BITMAP_BYTES = 1024 * 1024 * 1024;

/** Pulls exact byte counts out of a chunked async source, counting the offset for error messages. */
class ByteSource {
  private chunks: Buffer[] = [];
  private head = 0;
  private buffered = 0;
  private ended = false;
  /** bytes consumed so far = offset in the image of the next byte */
  offset = 0;
  /** per source memory: its chunks buffered here and the views of it handed out and not given back yet */
  private readonly holds = new Map<ArrayBufferLike, number>();
  /** memory is released from the data on (the header's views are used after the chunk they came from is gone) */
  releasing = false;

  constructor(
    private readonly iterator: AsyncIterator<Uint8Array>,
    private readonly release?: (memory: ArrayBufferLike) => void,
  ) {}

  /** A view of `memory` is out (or a chunk of it buffered). */
  hold(memory: ArrayBufferLike): void {
    if (this.release) this.holds.set(memory, (this.holds.get(memory) ?? 0) + 1);
  }

  /** A view of `memory` is given back: with none left, the memory goes back to the source. */
  drop(memory: ArrayBufferLike): void {
    const n = this.holds.get(memory);
    if (n === undefined) return;
    if (n > 1) return void this.holds.set(memory, n - 1);
    this.holds.delete(memory);
    if (this.releasing) this.release?.(memory);
  }

  /** Buffers at least n bytes unless the source ends first; returns how many are available. */
  async fill(n: number): Promise<number> {
    while (this.buffered < n && !this.ended) {
      let next: IteratorResult<Uint8Array>;
      try {
        next = await this.iterator.next();
      } catch (error) {
        throw toAtlasError(error, 'Reading the partclone image');
      }
      if (next.done) {
        this.ended = true;
        break;
      }
      const chunk = Buffer.isBuffer(next.value) ? next.value : Buffer.from(next.value);
      if (chunk.length === 0) continue;
      this.chunks.push(chunk);
      this.hold(chunk.buffer);
      this.buffered += chunk.length;
    }
    return Math.min(this.buffered, n);
  }

  /** Copies n buffered bytes into target at `at` (call fill first). */
  take(target: Buffer, at: number, n: number): void {
    while (n > 0) {
      const chunk = this.chunks[0]!;
      const m = Math.min(n, chunk.length - this.head);
      chunk.copy(target, at, this.head, this.head + m);
      this.consumed(m);
      at += m;
      n -= m;
    }
  }

  /** Buffered bytes that sit in one chunk, from the next one on. */
  contiguous(): number {
    const chunk = this.chunks[0];
    return chunk ? chunk.length - this.head : 0;
  }

  /**
   * n buffered bytes as one Buffer (a view when they sit in one chunk). `held`: the caller keeps it past the next
   * take, and drops it when done (its memory must not go back before; held before the chunk is used up).
   */
  takeBuffer(n: number, held = false): Buffer {
    const chunk = this.chunks[0];
    if (chunk && chunk.length - this.head >= n) {
      const view = chunk.subarray(this.head, this.head + n);
      if (held) this.hold(view.buffer);
      this.consumed(n);
      return view;
    }
    const out = Buffer.allocUnsafe(n);
    this.take(out, 0, n);
    return out;
  }

  private consumed(m: number): void {
    this.head += m;
    this.buffered -= m;
    this.offset += m;
    if (this.head === this.chunks[0]!.length) {
      this.drop(this.chunks.shift()!.buffer);
      this.head = 0;
    }
  }

  async close(): Promise<void> {
    this.chunks = [];
    await this.iterator.return?.();
  }
}

function truncated(sentence: string, details: Record<string, unknown>): AtlasError {
  return new AtlasError('TRUNCATED', `The partclone image is truncated: ${sentence}`, details);
}

/**
 * Reads the header and bitmap from `source` and returns a reader for the data stream. BAD_MAGIC, BAD_HEADER,
 * BAD_BITMAP or TRUNCATED when the head is wrong.
 */
export async function openPartcloneStream(
  source: Readable | AsyncIterable<Uint8Array>,
  options: PartcloneReaderOptions = {},
): Promise<PartcloneStreamReader> {
  const src = new ByteSource(source[Symbol.asyncIterator](), options.views ? options.release : undefined);
  try {
    return await openOn(src, options);
  } catch (error) {
    await src.close().catch(() => undefined);
    throw error;
  }
}

async function openOn(src: ByteSource, options: PartcloneReaderOptions): Promise<PartcloneStreamReader> {
  const probeLength = await src.fill(VERSION_PROBE_SIZE);
  const probe = src.takeBuffer(probeLength);
  const version = detectFormatVersion(Buffer.from(probe)); // BAD_MAGIC unless it starts right
  const headerSize = version === 2 ? 110 : 4160;
  if ((await src.fill(headerSize - probeLength)) < headerSize - probeLength) {
    throw truncated(`it ends inside its ${headerSize}-byte header.`, { offset: src.offset });
  }
  const head = Buffer.concat([probe, src.takeBuffer(headerSize - probeLength)]);
  const header = decodeHeader(head);
  const verify = options.verify ?? true;
  if (verify && (header.checksumMode === ChecksumMode.XXH64 || header.checksumMode === ChecksumMode.XXH128)) {
    throw new AtlasError(
      'UNSUPPORTED',
      `This image uses ${checksumModeName(header.checksumMode)} checksums (partclone 0.3.39 or newer), which Atlas cannot verify yet.`,
    );
  }

  const T = header.totalBlocks;
  let bitmap: Uint8Array;
  const mapLength = bitmapByteLength(header);
  // 1 GiB of bitmap is a 32 TiB filesystem in 4 KiB blocks: far past any card, and past what we buffer
  if (mapLength > MAX_BITMAP_BYTES || Math.ceil(T / 8) > MAX_BITMAP_BYTES) {
    throw new AtlasError(
      'UNSUPPORTED',
      `This partclone image describes ${T} blocks; its bitmap is too large to load.`,
      {
        totalBlocks: T,
      },
    );
  }
  if (header.bitmapMode === BitmapMode.NONE) {
    bitmap = new Uint8Array(Math.ceil(T / 8)).fill(0xff);
  } else {
    const trailer = header.bitmapMode === BitmapMode.BIT ? 4 : V1_BITMAP_MAGIC.length;
    if ((await src.fill(mapLength + trailer)) < mapLength + trailer) {
      throw truncated(`it ends inside its bitmap (${mapLength} bytes from byte ${src.offset}).`, {
        offset: src.offset,
      });
    }
    const stored = Buffer.from(src.takeBuffer(mapLength));
    const tail = src.takeBuffer(trailer);
    if (header.bitmapMode === BitmapMode.BIT) {
      const expected = tail.readUInt32LE(0);
      const computed = pcCrc32(stored);
      if (expected !== computed) {
        throw new AtlasError(
          'BAD_BITMAP',
          `The partclone image's block bitmap is damaged: its CRC is 0x${expected.toString(16).padStart(8, '0')} but the bitmap computes to 0x${computed.toString(16).padStart(8, '0')}.`,
          { stored: expected, computed },
        );
      }
      bitmap = stored;
      setPaddingBits(bitmap, T);
    } else {
      if (tail.toString('latin1') !== V1_BITMAP_MAGIC) {
        throw new AtlasError(
          'BAD_BITMAP',
          `The partclone image's block bitmap is damaged: the "${V1_BITMAP_MAGIC}" marker after it is missing.`,
        );
      }
      bitmap = byteMapToBitmap(stored, T);
    }
  }
  const usedBlocks = countUsed(bitmap, T);
  const B = header.blockSize;
  const C = header.checksumSize;
  const K = C ? header.blocksPerChecksum : 0;
  const dataOffset = src.offset;
  const imageSize = dataOffset + usedBlocks * B + (K ? Math.ceil(usedBlocks / K) * C : 0);
  let started = false;

  return {
    header,
    bitmap,
    usedBlocks,
    dataOffset,
    imageSize,
    close: () => src.close(),
    runs() {
      if (started) throw new AtlasError('INTERNAL', 'The partclone data stream can only be read once.');
      started = true;
      return dataRuns(src, header, bitmap, usedBlocks, { ...options, verify });
    },
  };
}

interface OpenRun {
  firstBlock: number;
  count: number;
  data: Buffer;
  /** stream index (0-based count of used blocks) just past this run's last block */
  endIndex: number;
}

async function* dataRuns(
  src: ByteSource,
  header: PartcloneHeader,
  bitmap: Uint8Array,
  usedBlocks: number,
  options: PartcloneReaderOptions & { verify: boolean },
): AsyncGenerator<PartcloneRun> {
  const B = header.blockSize;
  const C = header.checksumSize;
  const K = C ? header.blocksPerChecksum : 0;
  const v1 = header.checksumMode === ChecksumMode.CRC32_0001;
  const crcChecks = options.verify && C === 4;
  const maxRunBlocks = Math.max(1, Math.floor((options.maxRunBytes ?? 8 * 1024 * 1024) / B));
  // Past this much unverified data (huge groups) runs are handed out before their checksum arrives.
  const maxUnverifiedBlocks = Math.max(maxRunBlocks, Math.floor((64 * 1024 * 1024) / B));
  src.releasing = true;

  let got = 0; // blocks read
  let verified = 0; // blocks covered by a good checksum (or all read, when there is nothing to check)
  let crc = PC_CRC_SEED;
  let inGroup = 0;
  let groupFirstBlock = 0;
  let groupOffset = 0;
  let open: OpenRun | null = null;
  const closed: OpenRun[] = [];

  const readChecksum = async () => {
    const at = src.offset;
    if ((await src.fill(C)) < C) {
      throw truncated(
        `it ends inside the checksum at byte ${at} (all ${got} of ${usedBlocks} blocks were read, but not their checksum).`,
        {
          expectedBlocks: usedBlocks,
          gotBlocks: got,
          offset: at,
        },
      );
    }
    const stored = src.takeBuffer(C);
    if (crcChecks && stored.readUInt32LE(0) !== crc) {
      throw new AtlasError(
        'CHECKSUM_MISMATCH',
        `The partclone image is corrupt: checksum mismatch in the blocks starting at block ${groupFirstBlock} (image byte ${groupOffset}).`,
        {
          block: groupFirstBlock,
          offset: groupOffset,
          checksumOffset: at,
          stored: stored.readUInt32LE(0),
          computed: crc,
        },
      );
    }
    if (header.reseedChecksum) crc = PC_CRC_SEED;
    inGroup = 0;
  };

  const startGroup = (block: number) => {
    if (inGroup === 0) {
      groupFirstBlock = block;
      groupOffset = src.offset;
    }
  };
  /** Buffers the next n blocks (from `block`), or says where the image ends. */
  const fillBlocks = async (n: number, block: number) => {
    const bytes = n * B;
    const have = await src.fill(bytes);
    if (have < bytes) {
      const whole = Math.floor(have / B);
      throw truncated(
        `it ends at byte ${src.offset + have}, inside block ${block + whole} (expected ${usedBlocks} used blocks, got ${got + whole}).`,
        { expectedBlocks: usedBlocks, gotBlocks: got + whole, offset: src.offset + have },
      );
    }
  };
  /** Runs `count` blocks of `data` through the checksum register. */
  const check = (data: Buffer, count: number) => {
    if (!crcChecks) return;
    if (v1) for (let i = 0; i < count; i++) crc = pcCrc32FirstByteQuirk(data.subarray(i * B), B, crc);
    else crc = pcCrc32(data.subarray(0, count * B), crc);
  };
  /** n more blocks read: reads the group's checksum when it is complete and moves `verified` on. */
  const advance = async (n: number) => {
    got += n;
    if (K) {
      inGroup += n;
      if (inGroup === K) {
        await readChecksum();
        verified = got;
      }
    } else verified = got;
    if (got - verified > maxUnverifiedBlocks) verified = got;
  };

  for (const run of usedRuns({ bitmap, totalBlocks: header.totalBlocks })) {
    let block = run.first;
    let left = run.count;
    while (left > 0) {
      throwIfCancelled(options.signal);
      if (options.views) {
        const n = Math.min(left, maxRunBlocks, K ? K - inGroup : left);
        startGroup(block);
        await fillBlocks(n, block);
        // whole blocks that lie in one chunk are handed out as a view of it; a block across two is copied
        for (let k = 0; k < n;) {
          const count = Math.min(n - k, Math.max(1, Math.floor(src.contiguous() / B)));
          const data = src.takeBuffer(count * B, true);
          check(data, count);
          closed.push({ firstBlock: block + k, count, data, endIndex: got + k + count });
          k += count;
        }
        block += n;
        left -= n;
        await advance(n);
        while (closed.length && closed[0]!.endIndex <= verified) {
          const done = closed.shift()!;
          yield toRun(done, B);
          src.drop(done.data.buffer); // asked for the next run: done with this one
        }
        continue;
      }
      if (open && (open.firstBlock + open.count !== block || open.count === maxRunBlocks)) {
        closed.push(open);
        open = null;
      }
      if (!open) {
        const blocks = Math.min(maxRunBlocks, left);
        open = { firstBlock: block, count: 0, data: Buffer.allocUnsafe(blocks * B), endIndex: got };
      }
      const room = open.data.length / B - open.count;
      const n = Math.min(left, room, K ? K - inGroup : left);
      startGroup(block);
      await fillBlocks(n, block);
      const at = open.count * B;
      src.take(open.data, at, n * B);
      check(open.data.subarray(at, at + n * B), n);
      open.count += n;
      open.endIndex = got + n;
      block += n;
      left -= n;
      await advance(n);
      while (closed.length && closed[0]!.endIndex <= verified) yield toRun(closed.shift()!, B);
    }
  }
  if (K && inGroup > 0) await readChecksum();
  if (open) closed.push(open);
  // Trailing bytes mean the bitmap and the data disagree: the image cannot be trusted.
  if ((await src.fill(1)) > 0) {
    throw new AtlasError(
      'CORRUPT_ARCHIVE',
      `The partclone image has unexpected data after its last block (from byte ${src.offset}); it does not match its bitmap.`,
      { offset: src.offset },
    );
  }
  for (const run of closed) {
    yield toRun(run, B);
    src.drop(run.data.buffer);
  }
  await src.close();
}

/** A run's buffer is sized for the whole run; a shorter fill only happens on the way to an error. */
function toRun(run: OpenRun, blockSize: number): PartcloneRun {
  return { firstBlock: run.firstBlock, count: run.count, data: run.data.subarray(0, run.count * blockSize) };
}

export interface PartcloneInfo {
  path: string;
  header: PartcloneHeader;
  /** set bits in the bitmap (what partclone restores; the header's own counts are informational) */
  usedBlocks: number;
  dataOffset: number;
  /** size of the uncompressed image */
  imageSize: number;
  compressed: boolean;
  /** size of the file on disk */
  fileSize: number;
}

/** Header and bitmap facts of a partclone file, gzipped or not (detected by the 1f 8b magic). */
export async function readPartcloneInfo(
  path: string,
  options: { signal?: AbortSignal | undefined } = {},
): Promise<PartcloneInfo> {
  const opened = await openMaybeGzipped(path, { ...options, headOnly: true });
  const reader = await openPartcloneStream(opened.stream, { verify: false, ...options });
  await reader.close();
  opened.stream.destroy();
  return {
    path,
    header: reader.header,
    usedBlocks: reader.usedBlocks,
    dataOffset: reader.dataOffset,
    imageSize: reader.imageSize,
    compressed: opened.compressed,
    fileSize: opened.fileSize,
  };
}

export interface PartcloneVerifyResult {
  header: PartcloneHeader;
  usedBlocks: number;
  imageSize: number;
}

/**
 * Reads a whole partclone image and checks every checksum (what `partclone.chkimg` does). `onBytes` gets the
 * image bytes read so far, for progress. Throws the reader's errors.
 */
export async function verifyPartcloneStream(
  source: Readable | AsyncIterable<Uint8Array>,
  options: { signal?: AbortSignal | undefined; onBytes?: (imageBytes: number) => void } = {},
): Promise<PartcloneVerifyResult> {
  // views: the data is only counted here
  const reader = await openPartcloneStream(source, {
    views: true,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  let bytes = reader.dataOffset;
  const perBlock = reader.header.blockSize;
  try {
    for await (const run of reader.runs()) {
      bytes += run.count * perBlock;
      options.onBytes?.(bytes);
    }
  } finally {
    await reader.close();
  }
  options.onBytes?.(reader.imageSize);
  return { header: reader.header, usedBlocks: reader.usedBlocks, imageSize: reader.imageSize };
}
