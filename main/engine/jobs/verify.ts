/**
 * Verify a clone folder without a card: the manifest's sizes and sha256 (when the folder has one), the partition
 * table dump, and every checksum inside every partclone image (what `partclone.chkimg` does).
 */
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { AtlasError, toAtlasError } from '../errors';
import { type JobControl, ProgressMeter } from '../progress';
import { sha256File } from '../io/hash';
import { openMaybeGzipped } from '../compress/gunzip';
import { readPartcloneInfo, verifyPartcloneStream } from '../partclone';
import { parseSfdiskDump } from '../partition';
import type { PartitionTable } from '../partition/types';
import {
  DUMP_FILE,
  listPartitionImages,
  readCloneManifest,
  type CloneManifest,
} from '../library/clone-folder';

export interface VerifyResult {
  folder: string;
  /** null for folders made by the shell commands (no atlas-manifest.json) */
  manifest: CloneManifest | null;
  table: PartitionTable;
  images: Array<{ file: string; number: number; filesystem: string; usedBlocks: number; blockSize: number }>;
}

export async function verifyCloneFolder(folder: string, control: JobControl = {}): Promise<VerifyResult> {
  const images = await listPartitionImages(folder);
  const manifest = await checkCloneManifest(folder, control);
  const table = parseSfdiskDump(await fsp.readFile(join(folder, DUMP_FILE), 'utf8'));
  const infos = [];
  for (const image of images)
    infos.push(await readPartcloneInfo(join(folder, image.file)).catch(inFile(image.file)));
  const total = infos.reduce((sum, info) => sum + info.imageSize, 0);
  const meter = new ProgressMeter('verifying', total, control.onProgress);
  const results: VerifyResult['images'] = [];
  for (const [i, image] of images.entries()) {
    const done = meter.bytesDone;
    const { stream } = await openMaybeGzipped(
      join(folder, image.file),
      control.signal ? { signal: control.signal } : {},
    );
    const checked = await verifyPartcloneStream(stream, {
      ...(control.signal ? { signal: control.signal } : {}),
      onBytes: (bytes) => meter.set(done + bytes),
    }).catch(inFile(image.file));
    meter.set(done + infos[i]!.imageSize);
    results.push({
      file: image.file,
      number: image.number,
      filesystem: checked.header.fsName,
      usedBlocks: checked.usedBlocks,
      blockSize: checked.header.blockSize,
    });
  }
  meter.finish();
  return { folder, manifest, table, images: results };
}

/**
 * Every file the manifest lists must have its size and sha256. A folder without a manifest (made by the shell
 * commands) passes with null: its partclone checksums are then the only proof.
 */
export async function checkCloneManifest(
  folder: string,
  control: JobControl = {},
): Promise<CloneManifest | null> {
  const manifest = await readCloneManifest(folder);
  if (!manifest) return null;
  const total = manifest.files.reduce((sum, f) => sum + f.size, 0);
  const meter = new ProgressMeter('checking hashes', total, control.onProgress);
  for (const file of manifest.files) {
    const path = join(folder, file.name);
    const st = await fsp.stat(path).catch(() => null);
    if (!st)
      throw new AtlasError(
        'MANIFEST_MISMATCH',
        `${file.name} is listed in the manifest but missing from ${folder}.`,
      );
    if (st.size !== file.size) {
      throw new AtlasError(
        'MANIFEST_MISMATCH',
        `${file.name} is ${st.size} bytes but the manifest says ${file.size}: the folder is damaged or incomplete.`,
        { file: file.name },
      );
    }
    const done = meter.bytesDone;
    // through the page cache: restore and verify read the files again right after, and an archive has no holes
    const sha256 = await sha256File(path, {
      cached: true,
      ...(control.signal ? { signal: control.signal } : {}),
      onProgress: (p) => meter.set(done + p.bytesDone),
    });
    if (sha256 !== file.sha256) {
      throw new AtlasError(
        'MANIFEST_MISMATCH',
        `${file.name} does not match its sha256 in the manifest: the file is damaged.`,
        {
          file: file.name,
        },
      );
    }
  }
  meter.finish();
  return manifest;
}

/** Prefixes an error with the file it came from, so "checksum mismatch at block 4096" says where. */
export function inFile(file: string): (error: unknown) => never {
  return (error: unknown) => {
    const e = toAtlasError(error);
    if (e.message.includes(file)) throw e;
    throw new AtlasError(e.code, `${file}: ${e.message}`, { ...e.details, file }, { cause: error });
  };
}
