/**
 * Phase 1 Clone: a card (or a disk image) → golden-clone-TAG/, the same folder the team's shell commands make
 * (`sfdisk --dump` + `partclone.<fs> -c | pigz` per partition), in TypeScript so it also runs on a Mac.
 *
 * The source is only ever opened read-only. The folder is built as golden-clone-TAG.partial and renamed when
 * complete, with the manifest written last, so a folder without `.partial` is always whole.
 */
import { createWriteStream, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { AtlasError, throwIfCancelled, toAtlasError } from '../errors';
import { formatBytes } from '../format';
import { type JobControl, ProgressMeter } from '../progress';
import type { BlockFile } from '../io/block-file';
import { blockFileOf } from '../io/direct';
import { createSha256Stream, Sha256 } from '../io/hash';
import { syncDir, syncFile } from '../io/durable';
import { formatSfdiskDump, partitionDevicePath, readPartitionTable } from '../partition';
import type { PartitionEntry } from '../partition/types';
import { detectFilesystem, readUsedBlockMap } from '../fs';
import type { UsedBlockMap } from '../fs/types';
import { createPartcloneImageStream, partcloneImageSize } from '../partclone';
import { createParallelGzip } from '../compress/gzip-writer';
import { VERSION } from '../version';
import {
  cloneFolderName,
  DUMP_FILE,
  MANIFEST_FILE,
  partitionImageName,
  RESTORE_SCRIPT,
  type CloneManifest,
  type ManifestFile,
  type ManifestPartition,
} from '../library/clone-folder';
import { renderRestoreScript } from '../library/restore-script';
import { applyPhaseRule, readRootFacts, type RootFacts } from '../library/lineage';
import type { CardAccess } from '../drives/index';

export interface CloneOptions {
  /** a whole card (/dev/sdc, /dev/disk4) or a disk image file */
  source: string;
  /** the build folder; the clone goes to <outDir>/golden-clone-TAG */
  outDir: string;
  tag: string;
  /** how the source is opened: the broker's for a card (see drives/access.ts), localCardAccess for a file */
  access: CardAccess;
  /** what the drive list knows of the source, recorded in the manifest */
  sourceInfo?: { model?: string; serial?: string };
  /** gzip level (pigz's default is 6) */
  level?: number;
  /**
   * The Phase rule's override, for a safety net: clone a card whose Atlas first boot has not run (a golden image
   * flashed and never booted), which is refused otherwise. The manifest records that it was used.
   */
  allowUnbooted?: boolean;
}

export interface CloneResult {
  folder: string;
  manifest: CloneManifest;
}

interface PlannedPartition {
  entry: PartitionEntry;
  role: string;
  file: string;
  map: UsedBlockMap;
  offset: number;
}

export async function cloneJob(options: CloneOptions, control: JobControl = {}): Promise<CloneResult> {
  const { signal } = control;
  const folderName = cloneFolderName(options.tag);
  const folder = join(options.outDir, folderName);
  const partial = `${folder}.partial`;
  if (await exists(folder)) {
    throw new AtlasError(
      'ALREADY_EXISTS',
      `${folder} already exists. Choose another tag, or move the old clone away.`,
    );
  }
  const source = blockFileOf(await options.access.open(options.source, { write: false, direct: false }));
  try {
    const table = await readPartitionTable(source);
    // the lineage's read (a libext2fs worker on the source's descriptor) runs beside the used-block maps
    const facts = readLineageFacts(source, table.partitions, table.sectorSize, signal);
    facts.catch(() => undefined); // awaited below; a failure meanwhile is not an unhandled rejection
    let plan: PlannedPartition[];
    try {
      plan = await planPartitions(source, table.partitions, table.sectorSize);
    } catch (error) {
      await facts.catch(() => undefined); // the worker reads the source's descriptor: let it finish first
      throw error;
    }
    const found = await facts;
    const lineage = applyPhaseRule(
      source.path,
      found?.release ?? null,
      found?.fingerprint ?? null,
      options.allowUnbooted === true,
    );
    throwIfCancelled(signal);

    await fsp.rm(partial, { recursive: true, force: true });
    await fsp.mkdir(partial, { recursive: true });
    try {
      const files: ManifestFile[] = [];
      const dumpText = formatSfdiskDump(table, options.source);
      files.push(await writeSmallFile(partial, DUMP_FILE, dumpText, 0o644));

      const totalBytes = plan.reduce((sum, p) => sum + p.map.usedBlocks * p.map.blockSize, 0);
      const meter = new ProgressMeter('cloning', totalBytes, control.onProgress);
      const partitions: ManifestPartition[] = [];
      for (const p of plan) {
        meter.setDetail(p.file);
        const doneBefore = meter.bytesDone;
        const written = await clonePartition(
          source,
          p,
          join(partial, p.file),
          options.level ?? 6,
          (bytes) => meter.set(doneBefore + bytes),
          signal,
        );
        files.push({ name: p.file, size: written.size, sha256: written.sha256 });
        partitions.push({
          number: p.entry.number,
          role: p.role,
          file: p.file,
          filesystem: p.map.fsName,
          partcloneTool: p.map.partcloneTool,
          blockSize: p.map.blockSize,
          totalBlocks: p.map.totalBlocks,
          usedBlocks: p.map.usedBlocks,
          imageBytes: partcloneImageSize(p.map),
        });
      }

      meter.finish();
      const created = new Date().toISOString();
      const script = renderRestoreScript({
        tag: options.tag,
        created,
        version: VERSION,
        partitions: partitions.map((p) => ({ number: p.number, file: p.file, tool: p.partcloneTool })),
        sums: files,
      });
      files.push(await writeSmallFile(partial, RESTORE_SCRIPT, script, 0o755));

      const manifest: CloneManifest = {
        format: 'atlas-clone',
        formatVersion: 1,
        phase: 1,
        tag: options.tag,
        created,
        tool: { name: 'atlas-imager', version: VERSION },
        source: { path: options.source, size: source.size, ...options.sourceInfo },
        partitionTable: { label: table.label, id: table.id, partitions: table.partitions.length },
        lineage,
        partitions,
        files,
      };
      await writeSmallFile(partial, MANIFEST_FILE, `${JSON.stringify(manifest, null, 2)}\n`, 0o644);
      await syncDir(partial);
      await fsp.rename(partial, folder);
      await syncDir(options.outDir);
      return { folder, manifest };
    } catch (error) {
      await fsp.rm(partial, { recursive: true, force: true });
      throw error;
    }
  } finally {
    await source.close();
  }
}

/** Which partitions to clone and how: every partition must hold a filesystem partclone knows. */
async function planPartitions(
  source: BlockFile,
  entries: PartitionEntry[],
  sectorSize: number,
): Promise<PlannedPartition[]> {
  if (entries.length === 0)
    throw new AtlasError('INVALID_ARGUMENT', `${source.path} has no partitions to clone.`);
  const plan: PlannedPartition[] = [];
  const roles = new Set<string>();
  for (const entry of entries) {
    const offset = entry.start * sectorSize;
    const kind = await detectFilesystem(source, offset);
    if (!kind) {
      throw new AtlasError(
        'FS_UNSUPPORTED',
        `Partition ${entry.number} of ${source.path} holds no ext2/3/4 or FAT filesystem; Atlas Imager clones only those.`,
      );
    }
    const map = await readUsedBlockMap(source, offset);
    if (map.totalBlocks * map.blockSize > entry.size * sectorSize) {
      throw new AtlasError(
        'FS_UNSUPPORTED',
        `The filesystem in partition ${entry.number} of ${source.path} is larger than its partition; run fsck on it first.`,
      );
    }
    // the seed's names: the FAT partition is "boot", the ext one "root", anything else pN
    const wanted = kind === 'fat' ? 'boot' : 'root';
    const role = roles.has(wanted) ? `p${entry.number}` : wanted;
    roles.add(role);
    plan.push({
      entry,
      role,
      map,
      offset,
      file: partitionImageName(partitionDevicePath(source.path, entry.number), role),
    });
  }
  return plan;
}

/**
 * What the Phase rule (library/lineage.ts) reads: golden-release and the superblock of the root, the first ext
 * partition (the one planPartitions names "root"); null when there is none.
 */
async function readLineageFacts(
  source: BlockFile,
  entries: PartitionEntry[],
  sectorSize: number,
  signal: AbortSignal | undefined,
): Promise<RootFacts | null> {
  for (const entry of entries) {
    const offset = entry.start * sectorSize;
    if ((await detectFilesystem(source, offset)) === 'ext') return readRootFacts(source, offset, signal);
  }
  return null;
}

/** partclone image → parallel gzip → file, hashing the compressed bytes on their way to disk. */
async function clonePartition(
  source: BlockFile,
  p: PlannedPartition,
  path: string,
  level: number,
  onBytes: (bytesRead: number) => void,
  signal: AbortSignal | undefined,
): Promise<{ size: number; sha256: string }> {
  const { blockSize } = p.map;
  let bytesRead = 0;
  const image = createPartcloneImageStream(
    p.map,
    async (first, count, into) => {
      const length = count * blockSize;
      const at = p.offset + first * blockSize;
      const got = await source.read(into, at, length).catch((error: unknown) => {
        // the card, the byte and how far the clone got: a faulty card or reader is the person's next question
        const e = toAtlasError(
          error,
          `Reading ${source.path} at byte ${at} (partition ${p.entry.number}, ${formatBytes(bytesRead)} of it read)`,
        );
        throw new AtlasError(
          e.code,
          e.message,
          { ...e.details, device: source.path, offset: at },
          { cause: error },
        );
      });
      if (got < length) {
        throw new AtlasError('TRUNCATED', `${source.path} ended while reading partition ${p.entry.number}.`);
      }
      bytesRead += length;
      onBytes(bytesRead);
    },
    { signal },
  );
  const hash = createSha256Stream();
  const out = createWriteStream(path, { mode: 0o644, flags: 'wx' });
  await pipeline(image, createParallelGzip({ level }), hash, out, { signal });
  await syncFile(path);
  return { size: hash.bytes, sha256: hash.digest() };
}

async function writeSmallFile(dir: string, name: string, text: string, mode: number): Promise<ManifestFile> {
  const path = join(dir, name);
  await fsp.writeFile(path, text, { mode, flag: 'wx' });
  await fsp.chmod(path, mode); // the umask must not loosen or tighten what restore_golden.sh needs
  await syncFile(path);
  const hash = new Sha256();
  hash.update(Buffer.from(text));
  return { name, size: hash.bytes, sha256: hash.digest() };
}

async function exists(path: string): Promise<boolean> {
  return fsp.stat(path).then(
    () => true,
    () => false,
  );
}
