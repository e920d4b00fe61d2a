/**
 * Opening the archives we read (`.partclone.gz` from us or from `pigz`, or a plain image): gzip files are
 * inflated in parallel where their members allow it (gunzip-parallel.ts), serially otherwise.
 */
import { createReadStream, promises as fsp } from 'node:fs';
import type { Readable } from 'node:stream';
import { toAtlasError } from '../errors';
import { createGunzip, gunzipFile, isGzipMagic } from './gunzip-stream';
import { createParallelGunzip, recyclerOf } from './gunzip-parallel';

export { createGunzip, isGzipMagic, recyclerOf };

export interface OpenedImage {
  /** the decompressed bytes */
  stream: Readable;
  compressed: boolean;
  /** size of the file on disk */
  fileSize: number;
}

/**
 * Opens a file for streaming, gunzipping it on the fly (in parallel where it can) when it starts with the gzip
 * magic (1f 8b). Destroy the stream to stop early: that also stops its worker threads. `headOnly`: the caller
 * reads only the start (a header), so it is inflated serially; workers would inflate regions ahead for nothing.
 */
export async function openMaybeGzipped(
  path: string,
  options: { signal?: AbortSignal | undefined; headOnly?: boolean } = {},
): Promise<OpenedImage> {
  let head: Buffer;
  let fileSize: number;
  try {
    const handle = await fsp.open(path, 'r');
    try {
      fileSize = (await handle.stat()).size;
      head = Buffer.alloc(2);
      await handle.read(head, 0, 2, 0);
    } finally {
      await handle.close();
    }
  } catch (error) {
    throw toAtlasError(error, `Cannot open ${path}`);
  }
  if (isGzipMagic(head) && options.headOnly) {
    const stream = gunzipFile(path, { readBytes: 64 * 1024, signal: options.signal });
    return { stream, compressed: true, fileSize };
  }
  if (isGzipMagic(head)) {
    const stream = createParallelGunzip(path, options.signal ? { signal: options.signal } : {});
    return { stream, compressed: true, fileSize };
  }
  const file = createReadStream(path, {
    highWaterMark: 1024 * 1024,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  return { stream: file, compressed: false, fileSize };
}
