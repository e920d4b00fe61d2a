/**
 * Serial streaming gunzip: Node's zlib already continues across concatenated gzip members (what pigz and our
 * parallel writer produce) and ignores zero padding after the last member; this module adds errors a person
 * can act on. The parallel gunzip falls back on it for what it cannot split (gunzip-parallel.ts).
 */
import { createReadStream } from 'node:fs';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { createGunzip as zlibGunzip, type Gunzip } from 'node:zlib';
import { AtlasError, toAtlasError } from '../errors';

export function isGzipMagic(head: Uint8Array): boolean {
  return head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
}

function gunzipError(error: unknown, name: string): AtlasError {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'Z_BUF_ERROR') {
    return new AtlasError(
      'TRUNCATED',
      `${name} is truncated: the gzip data ends early (unexpected end of file).`,
      {},
      { cause: error },
    );
  }
  if (code === 'Z_DATA_ERROR' || code === 'Z_STREAM_ERROR' || code === 'Z_NEED_DICT') {
    const what = (error as Error).message;
    return new AtlasError(
      'CORRUPT_ARCHIVE',
      `${name} is not valid gzip data (${what}).`,
      {},
      { cause: error },
    );
  }
  return toAtlasError(error, name);
}

/**
 * A gunzip Transform for single- or multi-member gzip; its errors are AtlasErrors (TRUNCATED for a cut-off
 * file, CORRUPT_ARCHIVE for damaged data). `name` says which file in the messages.
 */
export function createGunzip(name = 'The gzip file'): Transform {
  const inner: Gunzip = zlibGunzip({ chunkSize: 256 * 1024 });
  // A thin wrapper rather than a patched zlib stream, so the error mapping cannot be bypassed.
  const outer = new Transform({
    readableHighWaterMark: 1024 * 1024,
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      if (inner.write(chunk)) callback();
      else inner.once('drain', () => callback());
    },
    flush(callback) {
      inner.once('end', () => callback());
      inner.end();
    },
    destroy(error, callback) {
      inner.destroy();
      callback(error);
    },
  });
  inner.on('data', (data: Buffer) => {
    if (!outer.push(data)) inner.pause();
  });
  // Transform's readable side calls _read when it wants more; resume the inner stream then.
  const read = outer._read.bind(outer);
  outer._read = (size: number) => {
    inner.resume();
    read(size);
  };
  inner.on('error', (error) => outer.destroy(gunzipError(error, name)));
  return outer;
}

/**
 * The inflated bytes of the gzip file at `path`, read serially from byte `start` (a member boundary; default
 * the start). A read error ends it as "Cannot read <name>"; destroying it, or its end, closes the file.
 */
export function gunzipFile(
  path: string,
  options: { start?: number; name?: string; readBytes?: number; signal?: AbortSignal | undefined } = {},
): Readable {
  const name = options.name ?? path;
  const file = createReadStream(path, {
    highWaterMark: options.readBytes ?? 1024 * 1024,
    ...(options.start ? { start: options.start } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const gunzip = createGunzip(name);
  file.on('error', (error) => gunzip.destroy(toAtlasError(error, `Cannot read ${name}`)));
  gunzip.on('close', () => file.destroy());
  return file.pipe(gunzip);
}
