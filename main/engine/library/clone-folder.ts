/**
 * The Phase 1 clone folder: its name, its files and its manifest. The layout is the team's (and Clonezilla's):
 *   golden-clone-TAG/
 *     partition-table.dump         sfdisk --dump text
 *     sdc1-boot.partclone.gz       one partclone image per partition, gzip (pigz-compatible)
 *     sdc2-root.partclone.gz
 *     restore_golden.sh            restores the folder on Linux with sfdisk + partclone + pigz
 *     atlas-manifest.json          written last by Atlas Imager (absent from folders the shell commands made)
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { basename, join } from 'node:path';
import { AtlasError } from '../errors';
import { checkTag } from '../names';
import { cloneFolderName as folderNameOf } from '../../shared/names';
import { visibleEntries } from './hidden-files';
import type { CloneLineage } from './lineage';

export const DUMP_FILE = 'partition-table.dump';
export const MANIFEST_FILE = 'atlas-manifest.json';
export const RESTORE_SCRIPT = 'restore_golden.sh';

/** The folder of a tag, after the one tag rule (main/shared/names). */
export function cloneFolderName(tag: string): string {
  return folderNameOf(checkTag(tag));
}

/** `sdc1-boot.partclone.gz`: the partition's device name, then its role (boot, root or pN). */
export function partitionImageName(partitionDeviceName: string, role: string): string {
  return `${basename(partitionDeviceName)}-${role}.partclone.gz`;
}

export interface ManifestFile {
  name: string;
  size: number;
  sha256: string;
}

export interface ManifestPartition {
  number: number;
  role: string;
  file: string;
  /** partclone's name: EXTFS, FAT32 ... */
  filesystem: string;
  /** the partclone program that restores it (partclone.<tool>) */
  partcloneTool: string;
  blockSize: number;
  totalBlocks: number;
  usedBlocks: number;
  /** uncompressed partclone image size */
  imageBytes: number;
}

export interface CloneManifest {
  format: 'atlas-clone';
  formatVersion: 1;
  phase: 1;
  tag: string;
  created: string;
  tool: { name: 'atlas-imager'; version: string };
  source: { path: string; size: number; model?: string; serial?: string };
  partitionTable: { label: string; id: string; partitions: number };
  /** the Phase 0 release the card descends from and whether its first boot had run (absent before Atlas 0.x) */
  lineage?: CloneLineage;
  partitions: ManifestPartition[];
  /** every other file of the folder with its size and sha256 */
  files: ManifestFile[];
}

export async function readCloneManifest(folder: string): Promise<CloneManifest | null> {
  let text: string;
  try {
    text = await fsp.readFile(join(folder, MANIFEST_FILE), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  let manifest: CloneManifest;
  try {
    manifest = JSON.parse(text) as CloneManifest;
  } catch {
    throw new AtlasError(
      'MANIFEST_MISMATCH',
      `${MANIFEST_FILE} in ${folder} is not valid JSON; the folder is damaged.`,
    );
  }
  if (manifest.format !== 'atlas-clone' || manifest.phase !== 1 || !Array.isArray(manifest.files)) {
    throw new AtlasError(
      'MANIFEST_MISMATCH',
      `${MANIFEST_FILE} in ${folder} is not an Atlas clone manifest.`,
    );
  }
  return manifest;
}

export interface FolderImage {
  /** partition number, from the device name in the file name (sdc2 → 2, mmcblk0p1 → 1) */
  number: number;
  file: string;
  role: string;
  compressed: boolean;
}

const IMAGE_NAME = /^(.*?)(\d+)-([A-Za-z0-9_]+)\.partclone(\.gz)?$/;

/**
 * The partition images in a clone folder, ours or one the shell commands made (`sdc1-boot.partclone.gz`).
 * One naming scheme, the team's: files that do not follow it are ignored, two images of one partition are an error
 * rather than a guess.
 */
export async function listPartitionImages(folder: string): Promise<FolderImage[]> {
  let names: string[];
  try {
    // `._sdc1-boot.partclone.gz`, macOS's AppleDouble beside the image on a FAT or exFAT disk, is not a second image
    names = await visibleEntries(folder);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new AtlasError('NOT_FOUND', `The clone folder ${folder} does not exist.`);
    }
    throw error;
  }
  const images: FolderImage[] = [];
  for (const file of names) {
    const match = IMAGE_NAME.exec(file);
    if (!match) continue;
    images.push({ number: Number(match[2]), file, role: match[3]!, compressed: Boolean(match[4]) });
  }
  const seen = new Map<number, string>();
  for (const image of images) {
    const other = seen.get(image.number);
    if (other) {
      throw new AtlasError(
        'INVALID_ARGUMENT',
        `${folder} has two images for partition ${image.number} (${other} and ${image.file}); keep one.`,
      );
    }
    seen.set(image.number, image.file);
  }
  if (!names.includes(DUMP_FILE)) {
    throw new AtlasError('NOT_FOUND', `${folder} has no ${DUMP_FILE}: it is not a golden clone folder.`);
  }
  if (images.length === 0) {
    throw new AtlasError('NOT_FOUND', `${folder} has no *.partclone.gz partition images.`);
  }
  return images;
}

/** The clone's tag (its manifest's, else from the folder's name) and the sha256 of its manifest file. */
export async function cloneFacts(
  folder: string,
): Promise<{ cloneTag: string | null; manifestSha256: string | null }> {
  const data = await fsp.readFile(join(folder, MANIFEST_FILE)).catch(() => null);
  const manifest = data ? await readCloneManifest(folder).catch(() => null) : null;
  const fromName = /^golden-clone-(.+)$/.exec(basename(folder))?.[1] ?? null;
  return {
    cloneTag: manifest?.tag ?? fromName,
    manifestSha256: data ? createHash('sha256').update(data).digest('hex') : null,
  };
}
