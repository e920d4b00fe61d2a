/**
 * Restore: a golden clone folder → one to sixteen cards (or disk image files), from one read of the folder.
 * Reads our folders and those the team's shell commands made with real partclone + pigz (v1 and v2 images).
 * Everything that can be known before writing is checked before the first byte is written: the manifest's
 * hashes, every partclone header, that each filesystem fits its partition, that the layout fits each card and,
 * for a deploy, that there is an ext4 root to re-arm and a hostname for every card. Then, on every card side by
 * side: the partition table, each partition's used blocks (free blocks are skipped, as partclone does) with
 * O_DIRECT (write.ts), the read-back (verify.ts), and root grown to fill the card; a deploy then re-arms each
 * card's identity (finish.ts). A card that fails is dropped with its own error; the others go on (cards.ts).
 *
 * Intents: `exact` rolls a device back to the clone (a safety net); `deploy` makes each card a device of its own.
 */
import { promises as fsp } from 'node:fs';
import { basename, join } from 'node:path';
import { AtlasError, throwIfCancelled } from '../../errors';
import { HOSTNAME_RULE, isValidHostname } from '../../../shared/hostnames';
import { type JobControl, ProgressMeter } from '../../progress';
import { makeBlockFile, type BlockFile } from '../../io/block-file';
import { alignedHandle } from '../../io/aligned-handle';
import { ioUnit } from '../../io/direct';
import { BlockHasher } from '../../io/hash-pool';
import { openMaybeGzipped, recyclerOf } from '../../compress/gunzip';
import { openPartcloneStream } from '../../partclone';
import { applyPartitionTable, growLastPartition } from '../../partition';
import type { PartitionTable } from '../../partition/types';
import type { CardAccess } from '../../drives/index';
import { cloneFacts, listPartitionImages } from '../../library/clone-folder';
import { checkCloneManifest, inFile } from '../verify';
import { CardBoard } from '../card-board';
import {
  everyCardFailed,
  failCard,
  newCard,
  resultOf,
  type RestoreCard,
  type RestoreIntent,
  type RestoreTargetResult,
  type RestoreTargetSpec,
} from './cards';
import {
  checkFits,
  lastPartition,
  prepareImageTarget,
  readDump,
  readHeaders,
  type PlannedImage,
} from './plan';
import { RunWriter } from './write';
import { verifyCards, type TableWrite } from './verify';
import { finishCard } from './finish';
import { EXT4_WARM_WORKERS, prestartExt4Workers } from '../../fs/ext4-inject';

export type { GrowOutcome, RestoreIntent, RestoreTargetResult, RestoreTargetSpec } from './cards';

/** What an image file opened O_DIRECT is read and written in (ioUnit's rule for such a file). */
const DIRECT_FILE_UNIT = ioUnit({ isBlockDevice: false, direct: true, sectorSize: 512 });

/** The most cards one restore writes. */
export const MAX_RESTORE_TARGETS = 16;

export interface RestoreOptions {
  /** a golden-clone-TAG folder */
  folder: string;
  /** 1 to MAX_RESTORE_TARGETS cards or image files */
  targets: RestoreTargetSpec[];
  /** 'deploy' re-arms each card's identity after it verified */
  intent: RestoreIntent;
  /** grow the last partition and its ext4 to fill each card (default true) */
  grow?: boolean;
  /** size for a new image-file target, in bytes (default: the clone's own disk size) */
  imageSize?: number;
  /** read each card back with the cache bypassed (default true) */
  verify?: boolean;
  /** eject each card at the end (default true; an image file is left as it is) */
  eject?: boolean;
  /** how the cards are opened, grown and ejected (the broker's in the app and the CLI; see drives/access.ts) */
  access: CardAccess;
  /** For tests only: runs after the data is on the cards and before the read-back. */
  testHooks?: { beforeVerify?: (devices: string[]) => Promise<void> | void };
}

export interface RestoreResult {
  folder: string;
  intent: RestoreIntent;
  cloneTag: string | null;
  /** sha256 of the clone folder's manifest file (null: it has none) */
  manifestSha256: string | null;
  /** true when the folder had a manifest and every hash matched */
  manifestChecked: boolean;
  /** the clone's partition table (each card's own grows its last partition to the card's size) */
  table: PartitionTable;
  partitions: Array<{ number: number; file: string; usedBlocks: number; blockSize: number }>;
  /** every card ok */
  ok: boolean;
  targets: RestoreTargetResult[];
  writeSeconds: number;
  verifySeconds: number;
}

export async function restoreJob(options: RestoreOptions, control: JobControl = {}): Promise<RestoreResult> {
  checkTargets(options);
  // A deploy ends re-arming each card in an ext4 worker: started now, they load while the manifest is hashed
  // (one core's work) and are warm for the re-arm.
  const warm =
    options.intent === 'deploy'
      ? prestartExt4Workers(Math.min(options.targets.length, EXT4_WARM_WORKERS))
      : null;
  try {
    return await restoreChecked(options, control);
  } finally {
    warm?.release();
  }
}

async function restoreChecked(options: RestoreOptions, control: JobControl): Promise<RestoreResult> {
  const { signal } = control;
  const grow = options.grow ?? true;
  const images = await listPartitionImages(options.folder);
  const manifestChecked = (await checkCloneManifest(options.folder, control)) !== null;
  const table = await readDump(options.folder);
  const planned = await readHeaders(options.folder, images, table);
  const lastIsExt =
    planned.find((p) => p.entry.number === lastPartition(table).number)?.header.fsName === 'EXTFS';
  if (options.intent === 'deploy' && !lastIsExt) {
    throw new AtlasError(
      'INVALID_ARGUMENT',
      `The last partition of ${basename(options.folder)} holds no ext4 root filesystem, so the cards' identity cannot be re-armed. Restore it as an exact copy instead.`,
    );
  }
  throwIfCancelled(signal);

  const cards = options.targets.map(newCard);
  const tables = new Map<RestoreCard, TableWrite[]>();
  // The addon's hash on libuv's threads (hash-pool.ts); without it inline, never on wasm workers: the cores are
  // the inflating workers' (gunzip-parallel.ts), and the pool's messages cost more than the hash (1.15 GiB in
  // 4 MiB chunks: 170 ms of CPU inline, 350 ms through the pool).
  const hasher = new BlockHasher(0);
  const board = new CardBoard(cards);
  let writeSeconds: number;
  let verifySeconds = 0;
  try {
    await Promise.all(cards.map((c) => openCard(c, options, table, planned, grow && lastIsExt)));
    throwIfCancelled(signal);
    if (!cards.some((c) => c.live)) throw everyCardFailed(cards);

    const started = performance.now();
    const total = planned.reduce((sum, p) => sum + p.usedBlocks * p.header.blockSize, 0);
    const meter = new ProgressMeter('restoring', total, control.onProgress, {
      detail: cards.map((c) => c.spec.device).join(', '),
    });
    board.use(meter, total, 'writing');
    await Promise.all(cards.filter((c) => c.live).map((c) => writeTable(c, tables, total)));
    const writer = new RunWriter(cards, hasher, meter, board, signal);
    try {
      for (const p of planned) await restorePartition(options.folder, p, writer, table, signal);
      await writer.finish();
    } catch (error) {
      await writer.abandon();
      throw error;
    }
    meter.finish();
    writeSeconds = (performance.now() - started) / 1000;
    if (!cards.some((c) => c.live)) throw everyCardFailed(cards);

    if (options.verify !== false) {
      await options.testHooks?.beforeVerify?.(cards.filter((c) => c.live).map((c) => c.spec.device));
      const verifyStarted = performance.now();
      await verifyCards(cards, writer.extents, tables, hasher, board, control);
      verifySeconds = (performance.now() - verifyStarted) / 1000;
    }
    throwIfCancelled(signal);

    const finishing = new ProgressMeter(
      grow && lastIsExt ? 'growing root' : 'restoring',
      null,
      control.onProgress,
    );
    board.use(finishing, null, 'finishing');
    const plan = { intent: options.intent, grow, lastIsExt, access: options.access };
    await Promise.all(cards.filter((c) => c.live).map((c) => finishCard(c, plan, control)));
    throwIfCancelled(signal);
    finishing.finish();
  } finally {
    await Promise.all([
      hasher.close().catch(() => undefined),
      ...cards.map((c) => c.dev?.handle.close().catch(() => undefined)),
    ]);
  }

  if (options.eject !== false) await ejectCards(cards, options.access);
  board.enter('done');
  if (!cards.some((c) => c.live)) throw everyCardFailed(cards);
  return {
    folder: options.folder,
    intent: options.intent,
    ...(await cloneFacts(options.folder)),
    manifestChecked,
    table,
    partitions: planned.map((p) => ({
      number: p.entry.number,
      file: p.image.file,
      usedBlocks: p.usedBlocks,
      blockSize: p.header.blockSize,
    })),
    ok: cards.every((c) => c.live),
    targets: cards.map(resultOf),
    writeSeconds,
    verifySeconds,
  };
}

/** The targets' own rules, before anything is read: how many, none twice, a valid hostname for each on a deploy. */
function checkTargets(options: RestoreOptions): void {
  const { targets, intent } = options;
  if (targets.length === 0) throw new AtlasError('INVALID_ARGUMENT', 'No card to restore onto.');
  if (targets.length > MAX_RESTORE_TARGETS) {
    throw new AtlasError(
      'INVALID_ARGUMENT',
      `${targets.length} cards were chosen; one restore writes at most ${MAX_RESTORE_TARGETS}.`,
    );
  }
  const devices = targets.map((t) => t.device);
  if (new Set(devices).size !== devices.length) {
    throw new AtlasError('INVALID_ARGUMENT', 'The same card is chosen twice.');
  }
  if (intent !== 'exact' && intent !== 'deploy') {
    throw new AtlasError('INVALID_ARGUMENT', `"${String(intent)}" is neither an exact restore nor a deploy.`);
  }
  if (intent === 'exact') return;
  const names = new Set<string>();
  for (const t of targets) {
    if (t.hostname === undefined || !isValidHostname(t.hostname)) {
      throw new AtlasError(
        'INVALID_ARGUMENT',
        t.hostname === undefined
          ? `A deploy gives every card a hostname; ${t.device} has none.`
          : `"${t.hostname}" (for ${t.device}) is not a hostname: use ${HOSTNAME_RULE}.`,
      );
    }
    if (names.has(t.hostname.toLowerCase())) {
      throw new AtlasError(
        'INVALID_ARGUMENT',
        `Two cards would be named ${t.hostname}; each needs its own hostname.`,
      );
    }
    names.add(t.hostname.toLowerCase());
  }
}

/** Opens a card (creating a missing image file), checks the clone fits it and plans its own partition table. */
async function openCard(
  card: RestoreCard,
  options: RestoreOptions,
  table: PartitionTable,
  planned: PlannedImage[],
  grow: boolean,
): Promise<void> {
  try {
    await prepareImageTarget(card.spec.device, table, options.imageSize);
    // An image file of whole pages is written and read back past the page cache too (O_DIRECT, where its
    // filesystem allows it): the read-back then comes from the disk, and the kernel copies nothing twice. One
    // of odd size is not: a write rounded up to a page would grow it.
    const st = await fsp.stat(card.spec.device).catch(() => null);
    const direct = st?.isFile() !== true || st.size % DIRECT_FILE_UNIT === 0;
    // one descriptor from the first write to the last re-armed file, so nothing remounts the card in between
    card.dev = await options.access.open(card.spec.device, { write: true, direct });
    const dev = card.dev;
    checkFits(table, planned, dev.path, dev.size);
    card.file = makeBlockFile(dev.path, alignedHandle(dev), dev.size, dev.isBlockDevice);
    card.table = grow ? growLastPartition(table, Math.floor(dev.size / table.sectorSize)) : table;
  } catch (error) {
    failCard(card, error, 'Preparing');
  }
}

/** The card's partition table, its writes kept for the read-back. */
async function writeTable(
  card: RestoreCard,
  tables: Map<RestoreCard, TableWrite[]>,
  total: number,
): Promise<void> {
  const writes: TableWrite[] = [];
  const file = card.file!;
  const recording: BlockFile = {
    ...file,
    write: async (buffer, position, length = buffer.byteLength) => {
      await file.write(buffer, position, length);
      writes.push({ position, data: Buffer.from(buffer.subarray(0, length)) });
    },
  };
  try {
    await applyPartitionTable(recording, card.table!);
    tables.set(card, writes);
  } catch (error) {
    failCard(card, error, 'Writing', writes.at(-1)?.position ?? 0, total);
  }
}

async function restorePartition(
  folder: string,
  p: PlannedImage,
  writer: RunWriter,
  table: PartitionTable,
  signal: AbortSignal | undefined,
): Promise<void> {
  const offset = p.entry.start * table.sectorSize;
  const { stream } = await openMaybeGzipped(join(folder, p.image.file), signal ? { signal } : {});
  // views, not copies: the writer gathers the runs into its aligned buffers anyway, each before asking for the
  // next run, so the inflated memory can go back to the workers (release)
  const release = recyclerOf(stream);
  const reader = await openPartcloneStream(stream, {
    views: true,
    ...(release ? { release } : {}),
    ...(signal ? { signal } : {}),
  }).catch((error: unknown) => {
    stream.destroy();
    return inFile(p.image.file)(error);
  });
  try {
    const { blockSize } = reader.header;
    const runs = reader.runs();
    for (;;) {
      // an error of the clone's file (not of a card: those are the cards' own, in write.ts) names the file
      const next = await runs.next().catch(inFile(p.image.file));
      if (next.done) break;
      const run = next.value;
      throwIfCancelled(signal);
      await writer.add(run.data, offset + run.firstBlock * blockSize, run.count * blockSize);
    }
  } finally {
    await reader.close();
  }
}

async function ejectCards(cards: RestoreCard[], access: CardAccess): Promise<void> {
  for (const c of cards.filter((x) => x.live && x.dev?.isBlockDevice)) {
    // a card that will not eject is still a good card: the person can pull it
    c.ejected = await access.eject(c.spec.device).catch(() => false);
  }
}
