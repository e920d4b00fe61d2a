/**
 * Writes a partition table to an image file or a block device the way `sfdisk TARGET < dump` does
 * (util-linux 2.38): a fresh label, boot code bytes 0..439 kept, CHS computed like libfdisk, GPT with both
 * copies and CRCs. Everything is checked and built in memory before the first byte is written.
 */
import { crc32 } from '../io/crc32';
import { randomUUID } from 'node:crypto';
import { AtlasError, throwIfCancelled } from '../errors';
import type { BlockFile } from '../io/block-file';
import { guidToBytes } from './guid';
import { gptAttrsFromString, gptLastUsable } from './parse';
import { GPT_SIGNATURE, SECTOR } from './read';
import { rereadPartitionTable } from './os';
import type { PartitionEntry, PartitionTable } from './types';

const BOOT_CODE_BYTES = 440;
const MAX_U32 = 0xffffffff;
const GPT_ENTRY_SIZE = 128;
const GPT_NAME_UNITS = 36;
const DEFAULT_FIRST_LBA = 2048;
const EXTENDED_TYPES = new Set(['5', 'f', '85']);

export interface Geometry {
  heads: number;
  sectors: number;
}

export interface ApplyOptions {
  /**
   * CHS geometry for the MBR entries. sfdisk takes the kernel's (HDIO_GETGEO) or 255/63; default: 4/16 for
   * /dev/mmcblk* (what the Linux MMC driver reports), else 255/63 (image files, loop and most USB readers).
   */
  geometry?: Geometry;
  /** Ask the kernel to re-read the table after writing a block device (default true). */
  reread?: boolean;
  signal?: AbortSignal | undefined;
}

/** Writes `table` to `target`; returns the table as written (for GPT, with first/last LBA of the target). */
export async function applyPartitionTable(
  target: BlockFile,
  table: PartitionTable,
  options: ApplyOptions = {},
): Promise<PartitionTable> {
  if (table.sectorSize !== SECTOR) {
    throw new AtlasError(
      'UNSUPPORTED',
      `Only 512-byte sectors are supported, the table has ${table.sectorSize}.`,
    );
  }
  const totalSectors = Math.floor(target.size / SECTOR);
  const first = await readSector0(target);
  const geometry = options.geometry ?? defaultGeometry(target.path);
  const { writes, written } =
    table.label === 'dos'
      ? planDos(table, totalSectors, first, geometry)
      : planGpt(table, totalSectors, first);
  // stale signatures of the other kind
  if (table.label === 'dos') writes.unshift(...(await wipeGptMagic(target, totalSectors)));

  throwIfCancelled(options.signal);
  for (const w of writes) await target.write(w.data, w.lba * SECTOR);
  if (target.isBlockDevice) {
    await target.handle.sync();
    if (options.reread !== false) await rereadPartitionTable(target.path);
  }
  return written;
}

interface Write {
  lba: number;
  data: Buffer;
}

async function readSector0(target: BlockFile): Promise<Buffer> {
  if (target.size < SECTOR * 4) {
    throw new AtlasError(
      'TARGET_TOO_SMALL',
      `${target.path} is too small (${target.size} bytes) for a partition table.`,
    );
  }
  const sector = Buffer.alloc(SECTOR);
  await target.read(sector, 0, SECTOR);
  return sector;
}

function defaultGeometry(path: string): Geometry {
  return /\/mmcblk\d+$/.test(path) ? { heads: 4, sectors: 16 } : { heads: 255, sectors: 63 };
}

function tooSmall(p: PartitionEntry, endLimit: number, what: string): AtlasError {
  return new AtlasError(
    'TARGET_TOO_SMALL',
    `The target is too small: partition ${p.number} ends at sector ${p.start + p.size - 1}, but ${what} is sector ${endLimit}.`,
    { partition: p.number, end: p.start + p.size - 1, limit: endLimit },
  );
}

function checkBasics(table: PartitionTable): void {
  const seen = new Set<number>();
  for (const p of table.partitions) {
    if (!Number.isSafeInteger(p.start) || !Number.isSafeInteger(p.size) || p.start < 1 || p.size < 1) {
      throw new AtlasError(
        'INVALID_ARGUMENT',
        `Partition ${p.number} has an invalid start or size (${p.start}, ${p.size}).`,
      );
    }
    if (seen.has(p.number))
      throw new AtlasError('INVALID_ARGUMENT', `Partition number ${p.number} appears twice.`);
    seen.add(p.number);
  }
}

function checkOverlaps(parts: PartitionEntry[], what: string): void {
  const sorted = [...parts].sort((a, b) => a.start - b.start);
  for (let i = 1; i < sorted.length; i++) {
    const a = sorted[i - 1]!;
    const b = sorted[i]!;
    if (b.start < a.start + a.size) {
      throw new AtlasError(
        'INVALID_ARGUMENT',
        `${what} ${a.number} (sectors ${a.start}-${a.start + a.size - 1}) and ${b.number} (from ${b.start}) overlap.`,
        { partitions: [a.number, b.number] },
      );
    }
  }
}

// ---------------------------------------------------------------------------------------------- dos

/** libfdisk's dos_partition_sync_chs: CHS of the first and last sector, clamped at cylinder 1023. */
function writeMbrEntry(
  sector: Buffer,
  offset: number,
  fields: { boot: boolean; type: number; absStart: number; relStart: number; size: number },
  g: Geometry,
): void {
  const spc = g.heads * g.sectors;
  const chs = (lba: number): [number, number, number] => {
    const l = Math.floor(lba / spc) > 1023 ? spc * 1024 - 1 : lba;
    const cyl = Math.floor(l / spc);
    return [Math.floor(l / g.sectors) % g.heads, ((l % g.sectors) + 1) | ((cyl >> 2) & 0xc0), cyl & 0xff];
  };
  const [bh, bs, bc] = chs(fields.absStart);
  const [eh, es, ec] = chs(fields.absStart + fields.size - 1);
  sector[offset] = fields.boot ? 0x80 : 0;
  sector[offset + 1] = bh;
  sector[offset + 2] = bs & 0xff;
  sector[offset + 3] = bc;
  sector[offset + 4] = fields.type;
  sector[offset + 5] = eh;
  sector[offset + 6] = es & 0xff;
  sector[offset + 7] = ec;
  sector.writeUInt32LE(fields.relStart, offset + 8);
  sector.writeUInt32LE(fields.size, offset + 12);
}

function dosTypeCode(p: PartitionEntry): number {
  const code = /^[0-9a-f]{1,2}$/i.test(p.type) ? parseInt(p.type, 16) : NaN;
  if (!(code >= 0))
    throw new AtlasError('INVALID_ARGUMENT', `Partition ${p.number}: "${p.type}" is not an MBR type code.`);
  return code;
}

function planDos(
  table: PartitionTable,
  totalSectors: number,
  first: Buffer,
  g: Geometry,
): { writes: Write[]; written: PartitionTable } {
  checkBasics(table);
  const idMatch = /^0x([0-9a-f]{1,8})$/i.exec(table.id);
  if (!idMatch)
    throw new AtlasError(
      'INVALID_ARGUMENT',
      `"${table.id}" is not an MBR disk identifier (0x + 8 hex digits).`,
    );
  const primaries = table.partitions.filter((p) => p.number <= 4);
  const logicals = table.partitions.filter((p) => p.number > 4).sort((a, b) => a.number - b.number);
  const extendeds = primaries.filter((p) => EXTENDED_TYPES.has(p.type));
  if (extendeds.length > 1)
    throw new AtlasError('INVALID_ARGUMENT', 'An MBR can hold only one extended partition.');
  const extended = extendeds[0];
  if (logicals.length && !extended) {
    throw new AtlasError(
      'INVALID_ARGUMENT',
      `Partition ${logicals[0]!.number} is logical but there is no extended partition.`,
    );
  }
  for (const p of table.partitions) {
    dosTypeCode(p);
    if (p.start + p.size > MAX_U32 + 1) {
      throw new AtlasError(
        'INVALID_ARGUMENT',
        `Partition ${p.number} lies beyond 2 TiB, which an MBR cannot describe.`,
      );
    }
  }
  checkOverlaps(primaries, 'Partitions');
  checkOverlaps(logicals, 'Partitions');
  // logical n > 5 has its EBR in front of it, inside the extended partition
  const ebrAt = new Map<number, number>();
  let previousEnd = extended?.start ?? 0;
  logicals.forEach((p, i) => {
    const ext = extended!;
    if (p.start <= ext.start || p.start + p.size > ext.start + ext.size) {
      throw new AtlasError(
        'INVALID_ARGUMENT',
        `Logical partition ${p.number} is not inside the extended partition.`,
      );
    }
    let at = i === 0 ? ext.start : p.start - DEFAULT_FIRST_LBA;
    if (i > 0 && at < previousEnd) at = p.start - 1;
    if (i > 0 && (at < previousEnd || at === ext.start)) {
      throw new AtlasError('INVALID_ARGUMENT', `Logical partition ${p.number} leaves no room for its EBR.`);
    }
    ebrAt.set(p.number, at);
    previousEnd = p.start + p.size;
  });
  for (const p of table.partitions) {
    if (p.start + p.size > totalSectors) throw tooSmall(p, totalSectors - 1, 'the last sector of the target');
  }

  const mbr = Buffer.alloc(SECTOR);
  first.copy(mbr, 0, 0, BOOT_CODE_BYTES);
  mbr.writeUInt32LE(parseInt(idMatch[1]!, 16), 440);
  for (const p of primaries) {
    writeMbrEntry(
      mbr,
      446 + (p.number - 1) * 16,
      {
        boot: !!p.bootable,
        type: dosTypeCode(p),
        absStart: p.start,
        relStart: p.start,
        size: p.size,
      },
      g,
    );
  }
  mbr[510] = 0x55;
  mbr[511] = 0xaa;
  const writes: Write[] = [];
  if (extended) {
    if (logicals.length === 0) {
      const empty = Buffer.alloc(SECTOR);
      empty[510] = 0x55;
      empty[511] = 0xaa;
      writes.push({ lba: extended.start, data: empty });
    }
    logicals.forEach((p, i) => {
      const at = ebrAt.get(p.number)!;
      const ebr = Buffer.alloc(SECTOR);
      writeMbrEntry(
        ebr,
        446,
        { boot: !!p.bootable, type: dosTypeCode(p), absStart: p.start, relStart: p.start - at, size: p.size },
        g,
      );
      const next = logicals[i + 1];
      if (next) {
        const nextAt = ebrAt.get(next.number)!;
        const nextEnd = next.start + next.size;
        writeMbrEntry(
          ebr,
          462,
          {
            boot: false,
            type: 0x05,
            absStart: nextAt,
            relStart: nextAt - extended.start,
            size: nextEnd - nextAt,
          },
          g,
        );
      }
      ebr[510] = 0x55;
      ebr[511] = 0xaa;
      writes.push({ lba: at, data: ebr });
    });
  }
  writes.push({ lba: 0, data: mbr });
  const written: PartitionTable = {
    label: 'dos',
    id: '0x' + idMatch[1]!.toLowerCase().padStart(8, '0'),
    sectorSize: SECTOR,
    partitions: table.partitions.map((p) => ({ ...p, bootable: !!p.bootable })),
  };
  return { writes, written };
}

/** Zeroes the "EFI PART" magic of stale GPT headers (primary and backup), as wipefs/sfdisk do. */
async function wipeGptMagic(target: BlockFile, totalSectors: number): Promise<Write[]> {
  const writes: Write[] = [];
  for (const lba of [1, totalSectors - 1]) {
    const sector = Buffer.alloc(SECTOR);
    await target.read(sector, lba * SECTOR, SECTOR);
    if (sector.toString('latin1', 0, 8) === GPT_SIGNATURE) {
      sector.fill(0, 0, 8);
      writes.push({ lba, data: sector });
    }
  }
  return writes;
}

// ---------------------------------------------------------------------------------------------- gpt

function gptHeader(
  fields: {
    my: number;
    alternate: number;
    first: number;
    last: number;
    entriesLba: number;
    count: number;
    entriesCrc: number;
  },
  diskGuid: Buffer,
): Buffer {
  const h = Buffer.alloc(SECTOR);
  h.write(GPT_SIGNATURE, 0, 'latin1');
  h.writeUInt32LE(0x00010000, 8);
  h.writeUInt32LE(92, 12);
  h.writeBigUInt64LE(BigInt(fields.my), 24);
  h.writeBigUInt64LE(BigInt(fields.alternate), 32);
  h.writeBigUInt64LE(BigInt(fields.first), 40);
  h.writeBigUInt64LE(BigInt(fields.last), 48);
  diskGuid.copy(h, 56);
  h.writeBigUInt64LE(BigInt(fields.entriesLba), 72);
  h.writeUInt32LE(fields.count, 80);
  h.writeUInt32LE(GPT_ENTRY_SIZE, 84);
  h.writeUInt32LE(fields.entriesCrc, 88);
  h.writeUInt32LE(crc32(h.subarray(0, 92)), 16);
  return h;
}

function planGpt(
  table: PartitionTable,
  totalSectors: number,
  first: Buffer,
): { writes: Write[]; written: PartitionTable } {
  checkBasics(table);
  const count = table.tableLength ?? 128;
  const entrySectors = Math.ceil((count * GPT_ENTRY_SIZE) / SECTOR);
  const minFirst = 2 + entrySectors;
  const lastLba = gptLastUsable(totalSectors, count);
  if (lastLba < minFirst) {
    throw new AtlasError('TARGET_TOO_SMALL', `The target (${totalSectors} sectors) is too small for a GPT.`);
  }
  const firstLba =
    table.firstLba ??
    (minFirst < DEFAULT_FIRST_LBA && DEFAULT_FIRST_LBA < lastLba ? DEFAULT_FIRST_LBA : minFirst);
  if (firstLba < minFirst) {
    throw new AtlasError(
      'INVALID_ARGUMENT',
      `first-lba ${firstLba} is inside the GPT entries (it must be at least ${minFirst}).`,
    );
  }
  let diskGuid: Buffer;
  try {
    diskGuid = guidToBytes(table.id);
  } catch {
    throw new AtlasError('INVALID_ARGUMENT', `"${table.id}" is not a GPT disk GUID.`);
  }
  const entries = Buffer.alloc(entrySectors * SECTOR);
  const partitions: PartitionEntry[] = [];
  for (const p of table.partitions) {
    if (p.number > count) {
      throw new AtlasError(
        'INVALID_ARGUMENT',
        `Partition ${p.number} does not fit a GPT of ${count} entries.`,
      );
    }
    if (p.start < firstLba) {
      throw new AtlasError(
        'INVALID_ARGUMENT',
        `Partition ${p.number} starts at ${p.start}, before first-lba ${firstLba}.`,
      );
    }
    if (p.start + p.size - 1 > lastLba) throw tooSmall(p, lastLba, 'the last usable sector of the target');
    const e = entries.subarray((p.number - 1) * GPT_ENTRY_SIZE, p.number * GPT_ENTRY_SIZE);
    const uuid = p.uuid ?? randomUUID().toUpperCase();
    try {
      guidToBytes(p.type).copy(e, 0);
      guidToBytes(uuid).copy(e, 16);
    } catch {
      throw new AtlasError('INVALID_ARGUMENT', `Partition ${p.number}: type or uuid is not a GUID.`);
    }
    e.writeBigUInt64LE(BigInt(p.start), 32);
    e.writeBigUInt64LE(BigInt(p.start + p.size - 1), 40);
    try {
      e.writeBigUInt64LE(p.attrs ? gptAttrsFromString(p.attrs) : 0n, 48);
    } catch (error) {
      throw new AtlasError('INVALID_ARGUMENT', `Partition ${p.number}: ${(error as Error).message}.`);
    }
    const name = Buffer.from(p.name ?? '', 'utf16le');
    if (name.length > GPT_NAME_UNITS * 2) {
      throw new AtlasError(
        'INVALID_ARGUMENT',
        `Partition ${p.number}: the name "${p.name}" is longer than 36 characters.`,
      );
    }
    name.copy(e, 56);
    partitions.push({ ...p, uuid });
  }
  checkOverlaps(table.partitions, 'Partitions');

  const entriesCrc = crc32(entries);
  const backupEntriesLba = totalSectors - 1 - entrySectors;
  const common = { first: firstLba, last: lastLba, count, entriesCrc };
  const primary = gptHeader({ ...common, my: 1, alternate: totalSectors - 1, entriesLba: 2 }, diskGuid);
  const backup = gptHeader(
    { ...common, my: totalSectors - 1, alternate: 1, entriesLba: backupEntriesLba },
    diskGuid,
  );

  const pmbr = Buffer.alloc(SECTOR);
  first.copy(pmbr, 0, 0, BOOT_CODE_BYTES);
  pmbr[446 + 2] = 0x02; // start CHS 0/0/2
  pmbr[446 + 4] = 0xee;
  pmbr[446 + 5] = 0xff;
  pmbr[446 + 6] = 0xff;
  pmbr[446 + 7] = 0xff;
  pmbr.writeUInt32LE(1, 446 + 8);
  pmbr.writeUInt32LE(Math.min(totalSectors - 1, MAX_U32), 446 + 12);
  pmbr[510] = 0x55;
  pmbr[511] = 0xaa;

  // UEFI's order: backup entries, backup header, primary entries, primary header, protective MBR
  const writes: Write[] = [
    { lba: backupEntriesLba, data: entries },
    { lba: totalSectors - 1, data: backup },
    { lba: 2, data: entries },
    { lba: 1, data: primary },
    { lba: 0, data: pmbr },
  ];
  const written: PartitionTable = {
    label: 'gpt',
    id: table.id.toUpperCase(),
    sectorSize: SECTOR,
    firstLba,
    lastLba,
    partitions: partitions.sort((a, b) => a.number - b.number),
  };
  if (count !== 128) written.tableLength = count;
  return { writes, written };
}
