/**
 * xz specifics: the uncompressed size from the stream indexes at the end of the file (a few small reads,
 * no decoding), and the in-process fallback decoder (xz-decompress, WebAssembly) hosted in a worker thread
 * so a decode of several minutes never blocks the event loop.
 */
import { promises as fsp } from 'node:fs';
import { basename, join } from 'node:path';
import { Readable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import { crc32 } from '../io/crc32';
import { AtlasError } from '../errors';
import type { WorkerMessage } from './source-xz-worker';

const TRUNCATED = 'the end of the stream is missing: the file is truncated';
const HEADER_MAGIC = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);

/** Reads a multibyte integer (xz's VLI: 7 bits per byte, at most 9 bytes); returns [value, nextOffset]. */
export function readVli(buffer: Buffer, offset: number): [number, number] {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 9; i++) {
    const byte = buffer[offset + i];
    if (byte === undefined) throw new Error('index ends inside a number');
    value += (byte & 0x7f) * scale;
    if ((byte & 0x80) === 0) {
      if (i > 0 && byte === 0) throw new Error('non-minimal number in the index');
      return [value, offset + i + 1];
    }
    scale *= 128;
  }
  throw new Error('number in the index is too long');
}

/** Parses one xz index (from its indicator byte through its CRC32). */
export function parseXzIndex(index: Buffer): { uncompressed: number; blocksSize: number; records: number } {
  if (index[0] !== 0x00) throw new Error('index indicator missing');
  if (index.length < 8 || index.length % 4 !== 0) throw new Error('bad index size');
  const body = index.subarray(0, index.length - 4);
  if (crc32(body) >>> 0 !== index.readUInt32LE(index.length - 4)) throw new Error('index CRC32 mismatch');
  const [records, first] = readVli(index, 1);
  let offset = first;
  let uncompressed = 0;
  let blocksSize = 0;
  for (let i = 0; i < records; i++) {
    let unpadded: number;
    let size: number;
    [unpadded, offset] = readVli(body, offset);
    [size, offset] = readVli(body, offset);
    blocksSize += Math.ceil(unpadded / 4) * 4;
    uncompressed += size;
  }
  for (; offset < body.length; offset++) if (body[offset] !== 0) throw new Error('index padding not zero');
  return { uncompressed, blocksSize, records };
}

/**
 * Uncompressed size of an .xz file: walks its streams backwards from the end (stream padding, footer,
 * index, blocks, header). A missing or damaged footer means the download is truncated: CORRUPT_ARCHIVE.
 */
export async function xzUncompressedSize(path: string, fileSize: number): Promise<number> {
  const handle = await fsp.open(path, 'r');
  const readAt = async (position: number, length: number): Promise<Buffer> => {
    if (position < 0) throw new Error('the structure points before the start of the file');
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await handle.read(buffer, 0, length, position);
    if (bytesRead !== length) throw new Error('short read');
    return buffer;
  };
  try {
    let end = fileSize;
    let total = 0;
    let streams = 0;
    while (end > 0) {
      if (end % 4 !== 0) throw new Error(TRUNCATED);
      const tail = await readAt(end - 4, 4);
      if (tail.readUInt32LE(0) === 0) {
        if (streams === 0 && end === fileSize && end <= 4) throw new Error('only padding');
        end -= 4; // stream padding
        continue;
      }
      const footer = await readAt(end - 12, 12);
      if (footer[10] !== 0x59 || footer[11] !== 0x5a) throw new Error(TRUNCATED);
      if (crc32(footer.subarray(4, 10)) >>> 0 !== footer.readUInt32LE(0))
        throw new Error('footer CRC32 mismatch');
      const indexSize = (footer.readUInt32LE(4) + 1) * 4;
      const indexStart = end - 12 - indexSize;
      const { uncompressed, blocksSize } = parseXzIndex(await readAt(indexStart, indexSize));
      const streamStart = indexStart - blocksSize - 12;
      const header = await readAt(streamStart, 12);
      if (!header.subarray(0, 6).equals(HEADER_MAGIC))
        throw new Error('the stream header is not where the index says');
      if (!header.subarray(6, 8).equals(footer.subarray(8, 10))) throw new Error('stream flags differ');
      total += uncompressed;
      streams += 1;
      end = streamStart;
    }
    if (streams === 0) throw new Error('no xz stream found');
    return total;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new AtlasError(
      'CORRUPT_ARCHIVE',
      `The archive ${basename(path)} is damaged or truncated (xz: ${reason}). Download or copy it again.`,
      { path, format: 'xz', reason },
      { cause: error },
    );
  } finally {
    await handle.close();
  }
}

/** How many decoded chunks may be in flight from the worker before it waits for the reader. */
const WINDOW = 8;

/**
 * A Readable of the decoded bytes from a worker thread. Flow control: the worker stops after WINDOW
 * unacknowledged chunks; we acknowledge a chunk once the consumer has room for more.
 */
export function createXzWorkerStream(
  path: string,
  hooks: { onCompressed: (bytes: number) => void; corrupt: (reason: string) => Error },
): Readable {
  let worker: Worker | null = null;
  let owed = 0;
  let finished = false;
  const stream = new Readable({
    highWaterMark: 4 * 1024 * 1024,
    read() {
      if (owed > 0 && worker) {
        worker.postMessage({ ack: owed });
        owed = 0;
      }
    },
    destroy(error, callback) {
      const running = worker;
      worker = null;
      if (running && !finished) void running.terminate();
      callback(error);
    },
  });
  // Compiled next to this file as source-xz-worker.js.
  worker = new Worker(join(__dirname, 'source-xz-worker.js'), { workerData: { path, window: WINDOW } });
  worker.on('message', (message: WorkerMessage) => {
    if (message.type === 'data') {
      hooks.onCompressed(message.compressed);
      if (stream.push(Buffer.from(message.chunk))) worker?.postMessage({ ack: 1 });
      else owed += 1;
    } else if (message.type === 'end') {
      finished = true;
      hooks.onCompressed(message.compressed);
      stream.push(null);
    } else {
      finished = true;
      hooks.onCompressed(message.compressed);
      stream.destroy(message.io ? new AtlasError('IO_ERROR', message.reason) : hooks.corrupt(message.reason));
    }
  });
  // An uncaught error in the worker is a fault of ours (e.g. the decoder failed to load), not a bad archive.
  worker.on('error', (error) =>
    stream.destroy(
      new AtlasError('INTERNAL', `The xz decoder failed: ${error.message}`, {}, { cause: error }),
    ),
  );
  worker.on('exit', (code) => {
    if (!finished && !stream.destroyed)
      stream.destroy(new AtlasError('INTERNAL', `The xz worker stopped (exit ${code}).`));
  });
  return stream;
}
