/**
 * Restore: a golden clone folder → a card (or a disk image file). Reads our folders and those the team's shell
 * commands made with real partclone + pigz (v1 and v2 images). Everything that can be known before writing is
 * checked before the first byte is written: the manifest's hashes, every partclone header, that each filesystem
 * fits its partition and that the layout fits the target. Then: partition table, each partition's used blocks
 * (free blocks are skipped, as partclone does), and root grown to fill the card.
 */
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { AtlasError, throwIfCancelled, toAtlasError } from '../errors';
import { formatBytes } from '../format';
import { type JobControl, ProgressMeter } from '../progress';
import type { BlockFile } from '../io/block-file';
import { blockFileOf } from '../io/direct';
import { openMaybeGzipped } from '../compress/gunzip';
import { openPartcloneStream, type PartcloneHeader } from '../partclone';
import { applyPartitionTable, growLastPartition, parseSfdiskDump } from '../partition';
import type { PartitionEntry, PartitionTable } from '../partition/types';
import type { CardAccess } from '../drives/index';
import { DUMP_FILE, listPartitionImages, type FolderImage } from '../library/clone-folder';
import { checkCloneManifest, inFile } from './verify';
import { ensureFirstBootResize } from '../library/first-boot-resize';
import { tableExtentBytes } from '../library/clone-needs';

/** Restore flushes the card this often (see CardWrites). */
const FLUSH_EVERY = 64 * 1024 * 1024;

/** An error of the card being written (not of the clone's file being read). */
class CardError extends AtlasError {}

export interface RestoreOptions {
  /** a golden-clone-TAG folder */
  folder: string;
  /** a whole card (/dev/sdc) or a disk image file (created when missing, `imageSize` bytes) */
  target: string;
  /** grow the last partition and its ext4 to fill the target (default true) */
  grow?: boolean;
  /** size for a new image-file target, in bytes (default: the clone's own disk size) */
  imageSize?: number;
  /** how the target is opened and grown (the broker's in the app and the CLI; see drives/access.ts) */
  access: CardAccess;
}

export type GrowOutcome =
  /** the partition and its filesystem fill the card now */
  | 'resized'
  /** the partition fills the card; Armbian's armbian-resize-filesystem grows the filesystem at next boot */
  | 'at-first-boot'
  /** not asked for, or nothing to grow */
  | 'none';

export interface RestoreResult {
  target: string;
  table: PartitionTable;
  partitions: Array<{ number: number; file: string; usedBlocks: number; blockSize: number }>;
  grow: GrowOutcome;
  /** a sentence for the person: what happened to the root filesystem's size */
  growMessage: string;
  /** true when the folder had a manifest and every hash matched */
  manifestChecked: boolean;
}

interface PlannedImage {
  image: FolderImage;
  entry: PartitionEntry;
  header: PartcloneHeader;
  usedBlocks: number;
}

export async function restoreJob(options: RestoreOptions, control: JobControl = {}): Promise<RestoreResult> {
  const { signal } = control;
  const grow = options.grow ?? true;
  const images = await listPartitionImages(options.folder);
  const manifestChecked = (await checkCloneManifest(options.folder, control)) !== null;
  const table = await readDump(options.folder);
  const planned = await readHeaders(options.folder, images, table);
  throwIfCancelled(signal);

  await prepareImageTarget(options, table);
  const target = blockFileOf(await options.access.open(options.target, { write: true, direct: false }));
  try {
    const targetSectors = Math.floor(target.size / table.sectorSize);
    const last = lastPartition(table);
    const lastIsExt = planned.find((p) => p.entry.number === last.number)?.header.fsName === 'EXTFS';
    // the clone's own layout must fit; growing then only extends the last partition to the card's end
    checkFits(table, planned, target, table.sectorSize);
    const finalTable = grow && lastIsExt ? growLastPartition(table, targetSectors) : table;

    await applyPartitionTable(target, finalTable);
    const total = planned.reduce((sum, p) => sum + p.usedBlocks * p.header.blockSize, 0);
    const meter = new ProgressMeter('restoring', total, control.onProgress);
    const writes = new CardWrites(target, meter);
    for (const p of planned) {
      await restorePartition(options.folder, p, writes, p.entry.start * table.sectorSize, meter, signal);
    }
    await writes.flush();
    meter.finish();

    let outcome: GrowOutcome = 'none';
    let growMessage = grow
      ? 'The last partition holds no ext4 filesystem; nothing to grow.'
      : 'Root was not grown (--no-grow).';
    if (grow && lastIsExt) {
      const grownRoot = lastPartition(finalTable);
      const rootOffset = grownRoot.start * table.sectorSize;
      const rootSize = grownRoot.size * table.sectorSize;
      if (await options.access.growExt4(options.target, rootOffset, rootSize, control)) {
        outcome = 'resized';
        growMessage = 'Root was grown to fill the card (resize2fs).';
      } else if (await ensureFirstBootResize(target.handle.fd, rootOffset, options.target)) {
        outcome = 'at-first-boot';
        growMessage =
          'The root partition fills the card; resize2fs is not available here, so Armbian grows the filesystem at first boot (armbian-resize-filesystem is enabled).';
      } else {
        growMessage =
          'The root partition fills the card, but its filesystem keeps its old size: resize2fs is not available here and the image has no armbian-resize-filesystem. Run resize2fs on Linux.';
      }
    }
    return {
      target: options.target,
      table: finalTable,
      partitions: planned.map((p) => ({
        number: p.entry.number,
        file: p.image.file,
        usedBlocks: p.usedBlocks,
        blockSize: p.header.blockSize,
      })),
      grow: outcome,
      growMessage,
      manifestChecked,
    };
  } finally {
    await target.close().catch(() => undefined);
  }
}

async function readDump(folder: string): Promise<PartitionTable> {
  const text = await fsp.readFile(join(folder, DUMP_FILE), 'utf8');
  return parseSfdiskDump(text);
}

/** Reads each image's header (not its data) and pairs it with its partition. */
async function readHeaders(
  folder: string,
  images: FolderImage[],
  table: PartitionTable,
): Promise<PlannedImage[]> {
  const planned: PlannedImage[] = [];
  for (const image of images) {
    const entry = table.partitions.find((p) => p.number === image.number);
    if (!entry) {
      throw new AtlasError(
        'INVALID_ARGUMENT',
        `${image.file} is for partition ${image.number}, which ${DUMP_FILE} does not have.`,
      );
    }
    const { stream } = await openMaybeGzipped(join(folder, image.file));
    const reader = await openPartcloneStream(stream).catch((error: unknown) => {
      stream.destroy();
      return inFile(image.file)(error);
    });
    await reader.close();
    const fsBytes = reader.header.totalBlocks * reader.header.blockSize;
    if (fsBytes > entry.size * table.sectorSize) {
      throw new AtlasError(
        'INVALID_ARGUMENT',
        `${image.file} holds a ${formatBytes(fsBytes)} filesystem, larger than partition ${entry.number} (${formatBytes(entry.size * table.sectorSize)}).`,
      );
    }
    planned.push({ image, entry, header: reader.header, usedBlocks: reader.usedBlocks });
  }
  return planned;
}

/**
 * A missing image-file target is created, sized for the layout (or `imageSize`). An existing file is treated
 * like a card: its size is what there is.
 */
async function prepareImageTarget(options: RestoreOptions, table: PartitionTable): Promise<void> {
  let st;
  try {
    st = await fsp.stat(options.target);
  } catch (error) {
    // only a missing target is created; one the person may not look at is the broker's card (or refused on open)
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') st = null;
    else return;
  }
  if (st) {
    if (!st.isBlockDevice() && !st.isFile()) {
      throw new AtlasError('INVALID_ARGUMENT', `${options.target} is neither a disk nor an image file.`);
    }
    return;
  }
  const needed = tableExtentBytes(table);
  const handle = await fsp.open(options.target, 'wx', 0o644);
  try {
    await handle.truncate(options.imageSize ?? needed);
  } finally {
    await handle.close();
  }
}

function lastPartition(table: PartitionTable): PartitionEntry {
  const last = [...table.partitions].sort((a, b) => a.start - b.start).at(-1);
  if (!last) throw new AtlasError('MALFORMED_DUMP', `${DUMP_FILE} has no partitions.`);
  return last;
}

function checkFits(
  table: PartitionTable,
  planned: PlannedImage[],
  target: BlockFile,
  sectorSize: number,
): void {
  const end = tableExtentBytes(table);
  if (end > target.size) {
    throw new AtlasError(
      'TARGET_TOO_SMALL',
      `${target.path} holds ${formatBytes(target.size)}; this clone needs ${formatBytes(end)}. Use a larger card.`,
      { needed: end, available: target.size },
    );
  }
  for (const p of planned) {
    const entry = table.partitions.find((e) => e.number === p.entry.number)!;
    const fsBytes = p.header.totalBlocks * p.header.blockSize;
    if (fsBytes > entry.size * sectorSize) {
      throw new AtlasError(
        'TARGET_TOO_SMALL',
        `${target.path} is too small for partition ${entry.number} (${p.image.file} needs ${formatBytes(fsBytes)}). Use a larger card.`,
        { needed: fsBytes },
      );
    }
  }
}

async function restorePartition(
  folder: string,
  p: PlannedImage,
  writes: CardWrites,
  offset: number,
  meter: ProgressMeter,
  signal: AbortSignal | undefined,
): Promise<void> {
  const { stream } = await openMaybeGzipped(join(folder, p.image.file), signal ? { signal } : {});
  const reader = await openPartcloneStream(stream, signal ? { signal } : {}).catch((error: unknown) => {
    stream.destroy();
    return inFile(p.image.file)(error);
  });
  try {
    const { blockSize } = reader.header;
    for await (const run of reader.runs()) {
      throwIfCancelled(signal);
      await writes.write(run.data, offset + run.firstBlock * blockSize, run.count * blockSize);
      meter.add(run.count * blockSize);
    }
  } catch (error) {
    if (error instanceof CardError) throw error;
    inFile(p.image.file)(error);
  } finally {
    await reader.close();
  }
}

/**
 * The card's writes. They go through the page cache (restore's runs are not sector-aligned), so a card that
 * refuses them says so at the next flush: flushing every FLUSH_EVERY bytes keeps little in memory and tells
 * where the card gave up to within that window, with how far the restore had got.
 */
class CardWrites {
  private from = Infinity;
  private to = 0;
  private pending = 0;

  constructor(
    private readonly target: BlockFile,
    private readonly meter: ProgressMeter,
  ) {}

  async write(data: Uint8Array, at: number, length: number): Promise<void> {
    await this.target.write(data, at, length).catch((error: unknown) => {
      throw this.error(error, `at byte ${at}`, at);
    });
    this.from = Math.min(this.from, at);
    this.to = Math.max(this.to, at + length);
    this.pending += length;
    if (this.pending >= FLUSH_EVERY) await this.flush();
  }

  /** Everything written so far onto the card (not only into its cache). */
  async flush(): Promise<void> {
    await this.target.handle.sync().catch((error: unknown) => {
      throw this.error(error, `between byte ${this.from} and ${this.to}`, this.from);
    });
    this.from = Infinity;
    this.to = 0;
    this.pending = 0;
  }

  private error(error: unknown, where: string, at: number): CardError {
    const restored = `${formatBytes(this.meter.bytesDone)} of ${formatBytes(this.meter.bytesTotal ?? 0)} restored`;
    const e = toAtlasError(error, `Writing ${this.target.path} ${where} (${restored})`);
    return new CardError(
      e.code,
      e.message,
      { ...e.details, device: this.target.path, offset: at },
      { cause: error },
    );
  }
}
