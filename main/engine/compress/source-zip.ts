/**
 * Picks the image inside a .zip and locates its data, using yauzl only to read the central directory
 * (ZIP64 included). The data itself is then read straight from the archive and inflated by the caller.
 */
import { basename } from 'node:path';
import * as yauzl from 'yauzl';
import { AtlasError } from '../errors';

export interface ZipEntryInfo {
  fileName: string;
  compressionMethod: number;
  compressedSize: number;
  uncompressedSize: number;
  crc32: number;
  /** Offset in the archive of the entry's (compressed) data. */
  dataStart: number;
}

const COMPRESSED_INNER = /\.(xz|gz|zst|zip|bz2|7z)$/i;

function isNoise(name: string): boolean {
  const leaf = basename(name);
  return name.endsWith('/') || name.startsWith('__MACOSX/') || leaf.startsWith('._') || leaf === '.DS_Store';
}

function openZip(path: string): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) => {
    yauzl.open(path, { lazyEntries: true, autoClose: false, strictFileNames: false }, (error, zip) => {
      if (error) reject(error);
      else resolve(zip);
    });
  });
}

function listEntries(zip: yauzl.ZipFile): Promise<yauzl.Entry[]> {
  return new Promise((resolve, reject) => {
    const entries: yauzl.Entry[] = [];
    zip.on('entry', (entry: yauzl.Entry) => {
      entries.push(entry);
      zip.readEntry();
    });
    zip.on('end', () => resolve(entries));
    zip.on('error', reject);
    zip.readEntry();
  });
}

function damaged(path: string, error: unknown): AtlasError {
  const reason = error instanceof Error ? error.message : String(error);
  return new AtlasError(
    'CORRUPT_ARCHIVE',
    `The zip archive ${basename(path)} is damaged or truncated (${reason}). Download or copy it again.`,
    { path, format: 'zip', reason },
    { cause: error },
  );
}

/** Chooses the entry (the single .img, or the single file, or `wanted`) and finds where its data starts. */
export async function openZipEntry(path: string, wanted?: string): Promise<ZipEntryInfo> {
  let zip: yauzl.ZipFile;
  try {
    zip = await openZip(path);
  } catch (error) {
    throw damaged(path, error);
  }
  try {
    let entries: yauzl.Entry[];
    try {
      entries = await listEntries(zip);
    } catch (error) {
      throw damaged(path, error);
    }
    const files = entries.filter((entry) => !isNoise(entry.fileName));
    const name = basename(path);
    let entry: yauzl.Entry | undefined;
    if (wanted !== undefined) {
      entry = files.find((candidate) => candidate.fileName === wanted);
      if (!entry) {
        throw new AtlasError('NOT_FOUND', `${name} has no entry named ${wanted}.`, {
          path,
          entries: files.map((f) => f.fileName),
        });
      }
    } else {
      if (files.length === 0) {
        throw new AtlasError(
          'INVALID_ARGUMENT',
          `The zip archive ${name} is empty: there is no image inside.`,
          { path },
        );
      }
      const images = files.filter((candidate) => /\.img$/i.test(candidate.fileName));
      const candidates = images.length > 0 ? images : files;
      if (candidates.length > 1) {
        const list = candidates.map((candidate) => candidate.fileName);
        throw new AtlasError(
          'INVALID_ARGUMENT',
          `The zip archive ${name} holds ${list.length} ${images.length > 0 ? 'images' : 'files'} ` +
            `(${list.join(', ')}); Atlas needs exactly one. Extract the one you want.`,
          { path, entries: list },
        );
      }
      entry = candidates[0]!;
    }
    if (COMPRESSED_INNER.test(entry.fileName)) {
      throw new AtlasError(
        'UNSUPPORTED',
        `${name} holds ${entry.fileName}, a compressed file inside a zip. Extract it and open ${basename(entry.fileName)} instead.`,
        { path, entry: entry.fileName },
      );
    }
    if (entry.isEncrypted()) {
      throw new AtlasError(
        'UNSUPPORTED',
        `${entry.fileName} in ${name} is encrypted; Atlas cannot read it.`,
        { path },
      );
    }
    if (entry.compressionMethod !== 0 && entry.compressionMethod !== 8) {
      throw new AtlasError(
        'UNSUPPORTED',
        `${entry.fileName} in ${name} uses zip compression method ${entry.compressionMethod}; ` +
          'only stored and deflate are supported. Re-zip it with a standard tool, or use .img.xz.',
        { path, compressionMethod: entry.compressionMethod },
      );
    }
    let dataStart: number;
    try {
      dataStart = (await zip.readLocalFileHeaderPromise(entry, { minimal: true })).fileDataStart;
    } catch (error) {
      throw damaged(path, error);
    }
    if (dataStart + entry.compressedSize > zip.fileSize) {
      throw damaged(path, new Error('the entry runs past the end of the file'));
    }
    return {
      fileName: entry.fileName,
      compressionMethod: entry.compressionMethod,
      compressedSize: entry.compressedSize,
      uncompressedSize: entry.uncompressedSize,
      crc32: entry.crc32,
      dataStart,
    };
  } finally {
    zip.close();
  }
}
