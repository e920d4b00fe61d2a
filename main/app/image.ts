/** What the Flash page shows of a chosen image before anything is written: its format and sizes. */
import { promises as fsp } from 'node:fs';
import { basename } from 'node:path';
import { AtlasError, toAtlasError } from '../engine/errors';
import type { ImageFormat, ImageInfo } from '../contract';

const FORMATS: Array<[RegExp, ImageFormat]> = [
  [/\.(img|raw|bin)$/i, 'img'],
  [/\.gz$/i, 'gz'],
  [/\.xz$/i, 'xz'],
  [/\.zip$/i, 'zip'],
  [/\.zst$/i, 'zst'],
];

export function imageFormat(path: string): ImageFormat | null {
  return FORMATS.find(([re]) => re.test(path))?.[1] ?? null;
}

export async function inspectImage(path: string): Promise<ImageInfo> {
  const format = imageFormat(path);
  if (!format) {
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
  return {
    path,
    name: basename(path),
    format,
    fileSize: stat.size,
    // an archive's raw size is only known once it has been read through
    imageSize: format === 'img' ? stat.size : null,
  };
}
