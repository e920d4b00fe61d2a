/**
 * Image sources of every accepted format behind one interface: detect the format by magic bytes, tell the
 * uncompressed size when the container records it, and stream the uncompressed bytes with the fastest
 * decoder available (the xz/pigz/zstd binaries when present, in-process libraries otherwise).
 * Flash and Insert read images through here; nothing here writes anywhere.
 */
import { createReadStream, promises as fsp } from 'node:fs';
import { basename } from 'node:path';
import type { Readable } from 'node:stream';
import { createGunzip, createInflateRaw } from 'node:zlib';
import { crc32 } from '../io/crc32';
import { AtlasError, throwIfCancelled, toAtlasError } from '../errors';
import { blockDeviceSize } from '../io/block-file';
import type { Block } from '../io/direct';
import { cleanToolMessage, feedChild, findTool, toolBlocks } from './source-tools';
import { READ_CHUNK, SourceStream, feedInProcess, corruptArchive, type Base } from './source-stream';
import { xzUncompressedSize, createXzWorkerStream } from './source-xz';
import { openZipEntry, type ZipEntryInfo } from './source-zip';
import { zstdContentSize, createZstdNapiStream, loadZstdNapi } from './source-zstd';

export type SourceFormat = 'raw' | 'gzip' | 'xz' | 'zip' | 'zstd';

/** Which implementation decodes the stream; reported so logs and benches can tell. */
export type SourceDecoder = 'file' | 'zlib' | 'pigz' | 'xz' | 'xz-wasm' | 'zstd' | 'zstd-napi';

export { cleanToolMessage, corruptArchive };

export const ACCEPTED_FORMATS = '.img, .img.gz, .img.xz, .img.zst, and .zip holding one .img';

/** The uncompressed bytes of an image, with the compressed bytes consumed so far (for progress). */
export interface SourceReadable extends Readable {
  /** Bytes of the file on disk consumed so far; for raw sources, the bytes read. */
  readonly compressedBytesRead: number;
  /** Uncompressed bytes produced so far. */
  readonly bytesProduced: number;
}

export interface ImageSource {
  readonly path: string;
  readonly format: SourceFormat;
  /** Bytes on disk (for a block device, its capacity). */
  readonly fileSize: number;
  /** Uncompressed size when the container records it exactly; null for gzip and unsized zstd streams. */
  readonly size: number | null;
  /**
   * Best guess of the uncompressed size when `size` is null (gzip's ISIZE, which is only the last
   * member's size modulo 4 GiB; offered only when not smaller than the file, so many-member files give
   * null, but a concatenation of large members can still under-estimate); a hint for display, never a
   * reason to refuse a target.
   */
  readonly estimate: number | null;
  /** The chosen entry inside a .zip. */
  readonly entryName?: string;
  readonly decoder: SourceDecoder;
  /** A fresh stream of the uncompressed image each call. Errors are AtlasErrors (CORRUPT_ARCHIVE, CANCELLED…). */
  createReadStream(options?: { signal?: AbortSignal | undefined }): SourceReadable;
  /**
   * The uncompressed image in whole blocks of the pool's buffer size, block k in pool[k % pool.length], with
   * the reuse rule of io/direct readBlocks (`ahead` blocks prepared while the caller holds one). A decoder tool
   * that reads the file itself hands its output to a worker through a FIFO, straight into the pool (which must
   * then live in SharedArrayBuffers, as alignedBuffer(…, { shared: true }) makes); any other source is its
   * stream copied in. Same errors as the stream.
   */
  readBlocks(
    pool: readonly Buffer[],
    options?: { ahead?: number; signal?: AbortSignal | undefined | undefined },
  ): AsyncGenerator<Block>;
}

export interface OpenImageSourceOptions {
  /** Use the xz, pigz and zstd binaries when found (default true); false forces the in-process decoders. */
  useTools?: boolean;
  /** Colon-separated folders searched for those binaries; default PATH plus the usual Homebrew folders. */
  toolPath?: string;
  /** Force a decoder for gzip or zstd (benchmarks); ignored when it does not fit the format or is missing. */
  gzipDecoder?: 'zlib' | 'pigz';
  zstdDecoder?: 'zstd' | 'zstd-napi';
  /** For a .zip holding several files: which entry to use. */
  entryName?: string;
  signal?: AbortSignal | undefined;
}

const RAW_EXTENSIONS = ['.img', '.raw', '.bin', '.iso', '.dd'];

type Detected = SourceFormat | { unsupported: string };

/** Recognises a format from the first bytes of the file (and the name, for raw images without an MBR). */
export function detectFormat(head: Buffer, name: string): Detected {
  const at = (offset: number, ...bytes: number[]): boolean => bytes.every((b, i) => head[offset + i] === b);
  if (at(0, 0x1f, 0x8b)) return 'gzip';
  if (at(0, 0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00)) return 'xz';
  if (at(0, 0x28, 0xb5, 0x2f, 0xfd)) return 'zstd';
  // a zstd skippable frame (pzstd starts with one): 0x184D2A5? little-endian
  if (head.length >= 4 && (head[0]! & 0xf0) === 0x50 && at(1, 0x2a, 0x4d, 0x18)) return 'zstd';
  if (at(0, 0x50, 0x4b, 0x03, 0x04) || at(0, 0x50, 0x4b, 0x05, 0x06) || at(0, 0x50, 0x4b, 0x07, 0x08))
    return 'zip';
  if (at(0, 0x42, 0x5a, 0x68)) return { unsupported: 'bzip2' };
  if (at(0, 0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c)) return { unsupported: '7-Zip' };
  if (at(0, 0x52, 0x61, 0x72, 0x21)) return { unsupported: 'RAR' };
  if (at(0, 0x04, 0x22, 0x4d, 0x18)) return { unsupported: 'LZ4' };
  if (at(0, 0x5d, 0x00, 0x00)) return { unsupported: 'LZMA (legacy .lzma)' };
  if (at(0, 0x51, 0x46, 0x49, 0xfb)) return { unsupported: 'QCOW2 (virtual disk)' };
  if (at(257, 0x75, 0x73, 0x74, 0x61, 0x72)) return { unsupported: 'tar' };
  // An SD-card image starts with an MBR (or GPT's protective MBR): boot signature 55 AA at 510.
  if (at(510, 0x55, 0xaa)) return 'raw';
  const lower = name.toLowerCase();
  if (RAW_EXTENSIONS.some((ext) => lower.endsWith(ext))) return 'raw';
  return { unsupported: '' };
}

export async function openImageSource(
  path: string,
  options: OpenImageSourceOptions = {},
): Promise<ImageSource> {
  throwIfCancelled(options.signal);
  const name = basename(path);
  let fileSize: number;
  let isBlockDevice: boolean;
  const head = Buffer.alloc(4096);
  let headLength: number;
  try {
    const st = await fsp.stat(path);
    if (st.isDirectory()) throw new AtlasError('INVALID_ARGUMENT', `${path} is a folder, not an image file.`);
    isBlockDevice = st.isBlockDevice();
    fileSize = isBlockDevice ? await blockDeviceSize(path) : st.size;
    const handle = await fsp.open(path, 'r');
    try {
      headLength = (await handle.read(head, 0, head.length, 0)).bytesRead;
    } finally {
      await handle.close();
    }
  } catch (error) {
    throw toAtlasError(error, `Cannot open the image ${path}`);
  }
  if (fileSize === 0)
    throw new AtlasError('INVALID_ARGUMENT', `The image ${path} is empty (0 bytes).`, { path });

  const detected: Detected = isBlockDevice ? 'raw' : detectFormat(head.subarray(0, headLength), name);
  if (typeof detected !== 'string') {
    const what = detected.unsupported ? `It is a ${detected.unsupported} file, which` : 'Its format';
    throw new AtlasError(
      'UNSUPPORTED',
      `${name} is not an image Atlas can read. ${what} is not supported. Accepted: ${ACCEPTED_FORMATS}.`,
      { path, format: detected.unsupported || null },
    );
  }
  const tools = toolFinder(options);
  const base = { path, fileSize, name, signal: options.signal };

  switch (detected) {
    case 'raw':
      return makeSource({
        base,
        format: 'raw',
        decoder: 'file',
        size: fileSize,
        start: (out) => {
          const file = createReadStream(path, {
            // 1 MiB chunks: larger fresh buffers measured slower (page faults on every allocation)
            highWaterMark: READ_CHUNK,
            ...(isBlockDevice ? { end: fileSize - 1 } : {}),
          });
          feedInProcess(out, file, null, base, 'raw');
        },
      });

    case 'gzip': {
      const isize = headLength >= 18 ? await readUint32LEAt(path, fileSize - 4) : null;
      // ISIZE is modulo 2^32 and only covers the last member, so trust it only when it is plausible.
      const estimate = isize !== null && isize >= fileSize ? isize : null;
      const pigz = options.gzipDecoder === 'zlib' ? null : tools('pigz');
      const usePigz = pigz !== null && options.gzipDecoder === 'pigz';
      return makeSource({
        base,
        format: 'gzip',
        decoder: usePigz ? 'pigz' : 'zlib',
        size: null,
        estimate,
        start: (out) => {
          if (usePigz) feedChild(out, pigz, ['-dc'], base, 'gzip');
          else
            feedInProcess(
              out,
              createReadStream(path, { highWaterMark: READ_CHUNK }),
              createGunzip({ chunkSize: 256 * 1024 }),
              base,
              'gzip',
            );
        },
      });
    }

    case 'xz': {
      const size = await xzUncompressedSize(path, fileSize);
      const xz = tools('xz');
      // with the size known, progress counts output bytes, so xz may read the file itself
      const readsFile = xz !== null && size !== null;
      return makeSource({
        base,
        format: 'xz',
        decoder: xz ? 'xz' : 'xz-wasm',
        size,
        start: (out) => {
          if (xz) feedChild(out, xz, ['-dc', '-T0'], base, 'xz', readsFile);
          else feedWorker(out, base);
        },
        ...(readsFile
          ? {
              blocks: (pool, opts, fallback) =>
                toolBlocks(xz, ['-dc', '-T0'], base, 'xz', pool, opts, fallback),
            }
          : {}),
      });
    }

    case 'zstd': {
      const size = await zstdContentSize(path, fileSize);
      const zstd = options.zstdDecoder === 'zstd-napi' ? null : tools('zstd');
      const useCli = zstd !== null && options.zstdDecoder !== 'zstd-napi';
      if (!useCli) loadZstdNapi();
      const readsFile = useCli && size !== null;
      return makeSource({
        base,
        format: 'zstd',
        decoder: useCli ? 'zstd' : 'zstd-napi',
        size,
        start: (out) => {
          if (useCli) feedChild(out, zstd, ['-dc', '--no-progress'], base, 'zstd', readsFile);
          else
            feedInProcess(
              out,
              createReadStream(path, { highWaterMark: READ_CHUNK }),
              createZstdNapiStream(),
              base,
              'zstd',
            );
        },
        ...(readsFile
          ? {
              blocks: (pool, opts, fallback) =>
                toolBlocks(zstd, ['-dc', '--no-progress'], base, 'zstd', pool, opts, fallback),
            }
          : {}),
      });
    }

    case 'zip': {
      const entry = await openZipEntry(path, options.entryName);
      return makeSource({
        base,
        format: 'zip',
        decoder: 'zlib',
        size: entry.uncompressedSize,
        entryName: entry.fileName,
        start: (out) => feedZipEntry(out, entry, base),
      });
    }
  }
}

/**
 * Progress of a source stream in one consistent unit: uncompressed bytes when the size is known, otherwise
 * compressed bytes consumed out of the file size (gzip, unsized zstd).
 */
export function sourceProgress(
  source: ImageSource,
  stream: SourceReadable,
): { bytesDone: number; bytesTotal: number; unit: 'uncompressed' | 'compressed' } {
  if (source.size !== null)
    return { bytesDone: stream.bytesProduced, bytesTotal: source.size, unit: 'uncompressed' };
  return { bytesDone: stream.compressedBytesRead, bytesTotal: source.fileSize, unit: 'compressed' };
}

/** What makeSource needs to know of one opened image. */
interface SourceParts {
  base: Base & { signal?: AbortSignal | undefined };
  format: SourceFormat;
  decoder: SourceDecoder;
  /** the exact uncompressed size, when the container records it */
  size: number | null;
  /** a guess of it otherwise (gzip's ISIZE) */
  estimate?: number | null;
  /** the chosen entry of a .zip */
  entryName?: string;
  /** starts feeding the uncompressed image into `out` */
  start: (out: SourceStream) => void;
  /** whole blocks by a faster way than the stream; `fallback` is the stream's way, for when it cannot start */
  blocks?: (
    pool: readonly Buffer[],
    options: { ahead?: number; signal?: AbortSignal | undefined | undefined },
    fallback: () => AsyncGenerator<Block>,
  ) => AsyncGenerator<Block>;
}

function makeSource({
  base,
  format,
  decoder,
  size,
  estimate = null,
  entryName,
  start,
  blocks,
}: SourceParts): ImageSource {
  return {
    path: base.path,
    format,
    fileSize: base.fileSize,
    size,
    estimate: size ?? estimate,
    ...(entryName !== undefined ? { entryName } : {}),
    decoder,
    createReadStream(options = {}) {
      const out = new SourceStream();
      const signal = options.signal;
      if (signal) {
        const onAbort = (): void => {
          out.destroy(new AtlasError('CANCELLED', 'The operation was cancelled.'));
        };
        if (signal.aborted) {
          process.nextTick(onAbort);
          return out;
        }
        signal.addEventListener('abort', onAbort, { once: true });
        out.cleanups.push(() => signal.removeEventListener('abort', onAbort));
        out.once('end', () => signal.removeEventListener('abort', onAbort));
      }
      start(out);
      return out;
    },
    readBlocks(pool, options = {}) {
      const viaStream = (): AsyncGenerator<Block> => streamBlocks(this.createReadStream(options), pool);
      return blocks ? blocks(pool, options, viaStream) : viaStream();
    },
  };
}

/** A stream's bytes gathered into the pool's buffers in turn, one whole block at a time. */
async function* streamBlocks(stream: SourceReadable, pool: readonly Buffer[]): AsyncGenerator<Block> {
  const blockSize = pool[0]!.length;
  try {
    let index = 0;
    let fill = 0;
    let current = pool[0]!;
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      let offset = 0;
      while (offset < chunk.length) {
        const n = Math.min(chunk.length - offset, blockSize - fill);
        chunk.copy(current, fill, offset, offset + n);
        fill += n;
        offset += n;
        if (fill === blockSize) {
          yield { buffer: current, length: fill, position: index * blockSize };
          fill = 0;
          current = pool[++index % pool.length]!;
        }
      }
    }
    if (fill > 0) yield { buffer: current, length: fill, position: index * blockSize };
  } finally {
    stream.destroy();
  }
}

/** The in-process xz fallback runs in a worker thread so a long decode never blocks the event loop. */
function feedWorker(out: SourceStream, base: Base): void {
  const stream = createXzWorkerStream(base.path, {
    onCompressed: (bytes) => {
      out.compressedBytesRead = bytes;
    },
    corrupt: (reason) => corruptArchive(base, 'xz', out, reason),
  });
  out.cleanups.push(() => stream.destroy());
  stream.on('error', (error) => out.destroy(toAtlasError(error, `Cannot decompress ${base.path}`)));
  stream.pipe(out);
}

/** A zip entry's data read straight from the archive, inflated here, with its CRC-32 and size checked. */
function feedZipEntry(out: SourceStream, entry: ZipEntryInfo, base: Base): void {
  const file = createReadStream(base.path, {
    start: entry.dataStart,
    end: entry.dataStart + entry.compressedSize - 1,
    highWaterMark: READ_CHUNK,
  });
  let crc = 0;
  out.onChunk = (chunk) => {
    crc = crc32(chunk, crc);
  };
  out.finalCheck = () => {
    if (out.compressedBytesRead < entry.compressedSize) {
      return corruptArchive(base, 'zip', out, 'it ends too early; the file is truncated');
    }
    if (out.bytesProduced !== entry.uncompressedSize) {
      return corruptArchive(
        base,
        'zip',
        out,
        `the entry holds ${out.bytesProduced} bytes, its header says ${entry.uncompressedSize}`,
      );
    }
    if (crc >>> 0 !== entry.crc32 >>> 0) return corruptArchive(base, 'zip', out, 'CRC-32 mismatch');
    return null;
  };
  const entryEmpty = entry.compressedSize === 0;
  if (entryEmpty) {
    file.destroy();
    process.nextTick(() => out.end());
    return;
  }
  feedInProcess(
    out,
    file,
    entry.compressionMethod === 8 ? createInflateRaw({ chunkSize: 256 * 1024 }) : null,
    base,
    'zip',
  );
}

async function readUint32LEAt(path: string, position: number): Promise<number | null> {
  const handle = await fsp.open(path, 'r');
  try {
    const buffer = Buffer.alloc(4);
    const { bytesRead } = await handle.read(buffer, 0, 4, position);
    return bytesRead === 4 ? buffer.readUInt32LE(0) : null;
  } finally {
    await handle.close();
  }
}

function toolFinder(options: OpenImageSourceOptions): (name: string) => string | null {
  return (name) => (options.useTools === false ? null : findTool(name, options.toolPath));
}
