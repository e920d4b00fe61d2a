/**
 * Reads an MBR or GPT partition table from an image file or a block device into the sfdisk-shaped model,
 * the way util-linux 2.38's libfdisk does (GPT wins when the MBR is protective; a bad primary GPT header
 * falls back to the backup at the last sector).
 */
import { crc32 } from '../io/crc32';
import { AtlasError } from '../errors';
import { readExactly, type BlockFile } from '../io/block-file';
import { guidFromBytes, isZeroGuid } from './guid';
import type { PartitionEntry, PartitionTable } from './types';

export const SECTOR = 512;
export const MBR_SIGNATURE_OFFSET = 510;
export const GPT_SIGNATURE = 'EFI PART';
const MBR_EXTENDED_TYPES = new Set([0x05, 0x0f, 0x85]);
const MBR_GPT_PROTECTIVE = 0xee;

interface MbrSlot {
  status: number;
  type: number;
  start: number;
  size: number;
}

export function mbrSlots(sector: Buffer): MbrSlot[] {
  const slots: MbrSlot[] = [];
  for (let i = 0; i < 4; i++) {
    const o = 446 + i * 16;
    slots.push({
      status: sector[o]!,
      type: sector[o + 4]!,
      start: sector.readUInt32LE(o + 8),
      size: sector.readUInt32LE(o + 12),
    });
  }
  return slots;
}

function hasMbrSignature(sector: Buffer): boolean {
  return sector[MBR_SIGNATURE_OFFSET] === 0x55 && sector[MBR_SIGNATURE_OFFSET + 1] === 0xaa;
}

export async function readPartitionTable(file: BlockFile): Promise<PartitionTable> {
  if (file.size < SECTOR) {
    throw new AtlasError('NO_PARTITION_TABLE', `${file.path} is too small to hold a partition table.`);
  }
  const mbr = await readExactly(file, 0, SECTOR);
  if (!hasMbrSignature(mbr)) {
    throw new AtlasError(
      'NO_PARTITION_TABLE',
      `${file.path} has no partition table (no MBR signature 55 AA at byte 510).`,
    );
  }
  const slots = mbrSlots(mbr);
  if (slots.some((s) => s.type === MBR_GPT_PROTECTIVE)) return readGpt(file);
  return readDos(file, mbr, slots);
}

async function readDos(file: BlockFile, mbr: Buffer, slots: MbrSlot[]): Promise<PartitionTable> {
  if (slots.some((s) => s.status !== 0 && s.status !== 0x80)) {
    throw new AtlasError(
      'NO_PARTITION_TABLE',
      `${file.path} has no valid partition table (the MBR partition entries have invalid status bytes).`,
    );
  }
  const partitions: PartitionEntry[] = [];
  let extended: MbrSlot | undefined;
  slots.forEach((s, i) => {
    // libfdisk lists every slot that is not all zeros (is_cleared_partition), even type 0
    const o = 446 + i * 16;
    if (mbr.subarray(o, o + 16).every((b) => b === 0)) return;
    partitions.push({
      number: i + 1,
      start: s.start,
      size: s.size,
      type: s.type.toString(16),
      bootable: s.status === 0x80,
    });
    if (MBR_EXTENDED_TYPES.has(s.type) && !extended) extended = s;
  });
  if (extended) partitions.push(...(await readLogical(file, extended)));
  return {
    label: 'dos',
    id: '0x' + mbr.readUInt32LE(440).toString(16).padStart(8, '0'),
    sectorSize: SECTOR,
    partitions,
  };
}

/** Walks the EBR chain of an extended partition; logical partitions are numbered from 5. */
async function readLogical(file: BlockFile, extended: MbrSlot): Promise<PartitionEntry[]> {
  const found: PartitionEntry[] = [];
  const seen = new Set<number>();
  let ebrLba = extended.start;
  while (found.length < 256) {
    if (seen.has(ebrLba) || (ebrLba + 1) * SECTOR > file.size) break;
    seen.add(ebrLba);
    const ebr = await readExactly(file, ebrLba * SECTOR, SECTOR);
    if (!hasMbrSignature(ebr)) break;
    const [data, next] = mbrSlots(ebr) as [MbrSlot, MbrSlot];
    if (data.type !== 0 && data.size > 0) {
      found.push({
        number: 5 + found.length,
        start: ebrLba + data.start,
        size: data.size,
        type: data.type.toString(16),
        bootable: data.status === 0x80,
      });
    }
    if (next.type === 0 || next.start === 0) break;
    ebrLba = extended.start + next.start;
  }
  return found;
}

export interface GptHeader {
  myLba: number;
  alternateLba: number;
  firstUsable: number;
  lastUsable: number;
  diskGuid: string;
  entriesLba: number;
  entryCount: number;
  entrySize: number;
  entriesCrc: number;
}

function u64(buffer: Buffer, offset: number): number {
  const value = buffer.readBigUInt64LE(offset);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError('64-bit value out of range');
  return Number(value);
}

/** Parses and checks one GPT header sector; returns null when it is not a valid header at `lba`. */
export function parseGptHeader(sector: Buffer, lba: number): GptHeader | null {
  if (sector.toString('latin1', 0, 8) !== GPT_SIGNATURE) return null;
  const headerSize = sector.readUInt32LE(12);
  if (headerSize < 92 || headerSize > SECTOR) return null;
  const copy = Buffer.from(sector.subarray(0, headerSize));
  copy.writeUInt32LE(0, 16);
  if (crc32(copy) !== sector.readUInt32LE(16)) return null;
  try {
    const header: GptHeader = {
      myLba: u64(sector, 24),
      alternateLba: u64(sector, 32),
      firstUsable: u64(sector, 40),
      lastUsable: u64(sector, 48),
      diskGuid: guidFromBytes(sector.subarray(56, 72)),
      entriesLba: u64(sector, 72),
      entryCount: sector.readUInt32LE(80),
      entrySize: sector.readUInt32LE(84),
      entriesCrc: sector.readUInt32LE(88),
    };
    if (header.myLba !== lba) return null;
    if (header.entrySize < 128 || header.entrySize % 8 !== 0 || header.entryCount === 0) return null;
    if (header.entryCount * header.entrySize > 16 * 1024 * 1024) return null;
    if (header.firstUsable > header.lastUsable) return null;
    return header;
  } catch {
    return null;
  }
}

async function readGptAt(
  file: BlockFile,
  lba: number,
): Promise<{ header: GptHeader; entries: Buffer } | null> {
  if (lba < 1 || (lba + 1) * SECTOR > file.size) return null;
  const header = parseGptHeader(await readExactly(file, lba * SECTOR, SECTOR), lba);
  if (!header) return null;
  const bytes = header.entryCount * header.entrySize;
  if (header.entriesLba * SECTOR + bytes > file.size) return null;
  const entries = await readExactly(file, header.entriesLba * SECTOR, bytes);
  if (crc32(entries) !== header.entriesCrc) return null;
  return { header, entries };
}

async function readGpt(file: BlockFile): Promise<PartitionTable> {
  const lastLba = Math.floor(file.size / SECTOR) - 1;
  const found = (await readGptAt(file, 1)) ?? (await readGptAt(file, lastLba));
  if (!found) {
    throw new AtlasError(
      'NO_PARTITION_TABLE',
      `${file.path} has a protective MBR but neither the primary nor the backup GPT header is valid.`,
    );
  }
  const { header, entries } = found;
  const partitions: PartitionEntry[] = [];
  for (let i = 0; i < header.entryCount; i++) {
    const e = entries.subarray(i * header.entrySize, i * header.entrySize + 128);
    if (isZeroGuid(e.subarray(0, 16))) continue;
    const start = u64(e, 32);
    const end = u64(e, 40);
    const entry: PartitionEntry = {
      number: i + 1,
      start,
      size: end >= start ? end - start + 1 : 0,
      type: guidFromBytes(e.subarray(0, 16)),
      uuid: guidFromBytes(e.subarray(16, 32)),
    };
    const name = decodeGptName(e.subarray(56, 128));
    if (name) entry.name = name;
    // libfdisk prints attrs="" when only bits without a name (3..47) are set
    const bits = e.readBigUInt64LE(48);
    if (bits !== 0n) entry.attrs = gptAttrsToString(bits);
    partitions.push(entry);
  }
  const table: PartitionTable = {
    label: 'gpt',
    id: header.diskGuid,
    sectorSize: SECTOR,
    firstLba: header.firstUsable,
    lastLba: header.lastUsable,
    partitions,
  };
  if (header.entryCount !== 128) table.tableLength = header.entryCount;
  return table;
}

function decodeGptName(raw: Buffer): string {
  let end = 0;
  while (end + 1 < raw.length && (raw[end] !== 0 || raw[end + 1] !== 0)) end += 2;
  return raw.toString('utf16le', 0, end);
}

const ATTR_BITS: [number, string][] = [
  [0, 'RequiredPartition'],
  [1, 'NoBlockIOProtocol'],
  [2, 'LegacyBIOSBootable'],
];

/** libfdisk's text for the attribute bits: the three named ones, then "GUID:n,m" for bits 48..63. */
export function gptAttrsToString(attrs: bigint): string {
  const words: string[] = [];
  for (const [bit, name] of ATTR_BITS) if ((attrs >> BigInt(bit)) & 1n) words.push(name);
  const guidBits: number[] = [];
  for (let bit = 48; bit < 64; bit++) if ((attrs >> BigInt(bit)) & 1n) guidBits.push(bit);
  if (guidBits.length) words.push('GUID:' + guidBits.join(','));
  return words.join(' ');
}
