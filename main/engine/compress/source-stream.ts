/**
 * The stream every image source hands out (SourceStream: counts bytes, runs the container's checks at the end,
 * tears its producers down when destroyed), how an in-process decoder feeds it, and the error a damaged archive
 * gives, located by the uncompressed byte where decoding stopped.
 */
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { AtlasError, toAtlasError } from '../errors';
import { formatBytes } from '../format';
import type { SourceFormat, SourceReadable } from './source';

/** Compressed bytes read per chunk. */
export const READ_CHUNK = 1024 * 1024;
const OUT_HIGH_WATER = 4 * 1024 * 1024;

/** The image file being decoded. */
export interface Base {
  path: string;
  name: string;
  fileSize: number;
}

/** The stream handed to callers: counts bytes, runs checks at the end, and tears its producers down on destroy. */
export class SourceStream extends Transform implements SourceReadable {
  compressedBytesRead = 0;
  bytesProduced = 0;
  readonly cleanups: Array<() => void> = [];
  onChunk: ((chunk: Buffer) => void) | null = null;
  /** Returns an error when the finished stream is incomplete or fails its checksum. */
  finalCheck: (() => Error | null) | null = null;

  constructor() {
    super({ readableHighWaterMark: OUT_HIGH_WATER, writableHighWaterMark: OUT_HIGH_WATER });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytesProduced += chunk.byteLength;
    this.onChunk?.(chunk);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    callback(this.finalCheck?.() ?? null);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    for (const cleanup of this.cleanups.splice(0)) {
      try {
        cleanup();
      } catch {
        // tearing down; the original error matters more
      }
    }
    callback(error);
  }
}

/** A damaged archive, located by the uncompressed byte where decoding stopped. */
export function corruptArchive(
  base: Base,
  format: SourceFormat,
  out: Pick<SourceReadable, 'bytesProduced' | 'compressedBytesRead'>,
  reason: string,
): AtlasError {
  const at = out.bytesProduced;
  return new AtlasError(
    'CORRUPT_ARCHIVE',
    `The archive ${base.name} is damaged (${reason}): decompression failed at about ${formatBytes(at)} ` +
      `(byte ${at}) of the image. Download or copy it again.`,
    {
      path: base.path,
      format,
      uncompressedOffset: at,
      // unknown (0) when the tool read the file itself
      ...(out.compressedBytesRead > 0 ? { compressedOffset: out.compressedBytesRead } : {}),
      reason,
    },
  );
}

export function countCompressed(out: SourceStream, file: Readable): void {
  file.on('data', (chunk: Buffer) => {
    out.compressedBytesRead += chunk.byteLength;
  });
}

/** file → (decoder) → out, in this process. */
export function feedInProcess(
  out: SourceStream,
  file: Readable,
  decoder: Transform | null,
  base: Base,
  format: SourceFormat,
): void {
  countCompressed(out, file);
  out.cleanups.push(() => file.destroy());
  file.on('error', (error) => out.destroy(toAtlasError(error, `Cannot read ${base.path}`)));
  if (!decoder) {
    file.pipe(out);
    return;
  }
  out.cleanups.push(() => decoder.destroy());
  decoder.on('error', (error: NodeJS.ErrnoException) => {
    out.destroy(corruptArchive(base, format, out, zlibReason(error)));
  });
  file.pipe(decoder).pipe(out);
}

function zlibReason(error: NodeJS.ErrnoException): string {
  const message = error.message || String(error);
  if (/unexpected end/i.test(message)) return 'it ends too early; the file is truncated';
  if (/incorrect data check|invalid.*check/i.test(message)) return 'checksum mismatch';
  return message;
}
