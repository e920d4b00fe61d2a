/**
 * What the Flash page shows of a chosen image before anything is written: its format and how much room it needs
 * on a card, read from the container without decoding it (xz's index, zip's central directory, zstd's frame
 * headers, gzip's trailer). The card list marks cards too small from this, before anyone confirms.
 */
import { promises as fsp } from 'node:fs';
import { basename } from 'node:path';
import { AtlasError, toAtlasError } from '../engine/errors';
import { openImageSource, type SourceFormat } from '../engine/compress/source';
import type { ImageFormat, ImageInfo } from '../contract';

const FORMATS: Array<[RegExp, ImageFormat]> = [
  [/\.(img|raw|bin)$/i, 'img'],
  [/\.gz$/i, 'gz'],
  [/\.xz$/i, 'xz'],
  [/\.zip$/i, 'zip'],
  [/\.zst$/i, 'zst'],
];

/** The engine's name of a format → the contract's (the file extension people know). */
const CONTRACT_FORMAT: Record<SourceFormat, ImageFormat> = {
  raw: 'img',
  gzip: 'gz',
  xz: 'xz',
  zip: 'zip',
  zstd: 'zst',
};

export function imageFormat(path: string): ImageFormat | null {
  return FORMATS.find(([re]) => re.test(path))?.[1] ?? null;
}

export async function inspectImage(path: string): Promise<ImageInfo> {
  if (!imageFormat(path)) {
    throw new AtlasError(
      'UNSUPPORTED',
      `${basename(path)} is not an image Atlas Imager can write. Choose a .img, .img.gz, .img.xz, .zip or .zst file.`,
    );
  }
  const stat = await fsp.stat(path).catch((error: unknown) => {
    throw toAtlasError(error, 'The image');
  });
  if (!stat.isFile())
    throw new AtlasError('INVALID_ARGUMENT', `${path} is not a file. Choose an image file.`);
  if (stat.size === 0)
    throw new AtlasError('INVALID_ARGUMENT', `${basename(path)} is empty. Choose another image.`);
  // the content decides the format (a .img.xz that is really gzip is read as gzip), as flashing will
  const source = await openImageSource(path);
  return {
    path,
    name: basename(path),
    format: CONTRACT_FORMAT[source.format],
    fileSize: stat.size,
    // gzip records only its last member's size modulo 4 GiB: never more than the image, so still a floor
    imageSize: source.size ?? source.estimate,
    sizeExact: source.size !== null,
  };
}
