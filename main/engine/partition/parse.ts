/**
 * Reads `sfdisk` script text (what `sfdisk --dump` writes, and what `sfdisk DEV < dump` accepts) into the
 * partition model. Follows util-linux 2.38's script grammar: header lines before the first partition, named
 * fields (`start=`, `size=`, `type=`/`Id=`, `uuid=`, `name=`, `attrs=`, `bootable`) or the short
 * comma form (`start,size,type,bootable`), an optional `NAME :` prefix whose trailing digits give the number.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { AtlasError } from '../errors';
import { isGuid } from './guid';
import { gptAttrsToString } from './read';
import type { PartitionEntry, PartitionLabel, PartitionTable } from './types';

const SECTOR = 512;
const DEFAULT_GRAIN_SECTORS = 2048;
const HEADER_NAMES = new Set([
  'label',
  'unit',
  'label-id',
  'device',
  'grain',
  'first-lba',
  'last-lba',
  'table-length',
  'sector-size',
]);

// libfdisk's type shortcuts and aliases (dos.c / gpt.c dos_parttype_cuts, gpt_parttype_cuts)
const DOS_TYPE_CUTS: Record<string, string> = {
  L: '83',
  linux: '83',
  S: '82',
  swap: '82',
  E: '5',
  Ex: '5',
  extended: '5',
  U: 'ef',
  uefi: 'ef',
  R: 'fd',
  raid: 'fd',
  V: '8e',
  lvm: '8e',
  X: '85',
  linuxex: '85',
};
const GPT_TYPE_CUTS: Record<string, string> = {
  L: '0FC63DAF-8483-4772-8E79-3D69D8477DE4',
  linux: '0FC63DAF-8483-4772-8E79-3D69D8477DE4',
  S: '0657FD6D-A4AB-43C4-84E5-0933C84B4F4F',
  swap: '0657FD6D-A4AB-43C4-84E5-0933C84B4F4F',
  H: '933AC7E1-2EB4-4F13-B844-0E14E2AEF915',
  home: '933AC7E1-2EB4-4F13-B844-0E14E2AEF915',
  U: 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B',
  uefi: 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B',
  R: 'A19D880F-05FC-4D3B-A006-743F0F84911E',
  raid: 'A19D880F-05FC-4D3B-A006-743F0F84911E',
  V: 'E6D6D379-F507-44C2-A23C-238F2A3DF928',
  lvm: 'E6D6D379-F507-44C2-A23C-238F2A3DF928',
};

export interface ParseOptions {
  /**
   * Size of the target in sectors. Only needed when the dump leaves the size of its last partition open
   * (`size=+` or no size), which `sfdisk --dump` output never does.
   */
  totalSectors?: number;
}

/** A partition line as written, before defaults are resolved. */
interface RawPartition {
  line: number;
  number?: number;
  start?: number;
  size?: number;
  /** given in KiB/MiB/…, not in sectors: sfdisk aligns its end */
  sizeRelative: boolean;
  type?: string;
  bootable: boolean;
  uuid?: string;
  name?: string;
  attrs?: string;
}

class Malformed extends AtlasError {
  constructor(line: number, what: string) {
    super('MALFORMED_DUMP', `Partition table dump, line ${line}: ${what}.`, { line });
  }
}

export function parseSfdiskDump(text: string, options: ParseOptions = {}): PartitionTable {
  const headers = new Map<string, { value: string; line: number }>();
  const raws: RawPartition[] = [];
  const lines = text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  lines.forEach((rawLine, index) => {
    const lineNo = index + 1;
    const line = rawLine.replace(/\r$/, '').replace(/^[ \t]+/, '');
    if (line === '' || line.startsWith('#')) return;
    if (isHeaderLine(line)) {
      if (raws.length > 0)
        throw new Malformed(lineNo, `header line "${line}" after the first partition line`);
      parseHeader(line, lineNo, headers);
    } else if (line.includes('=')) {
      raws.push(parseNamedFields(line, lineNo));
    } else {
      raws.push(parseCommaFields(line, lineNo));
    }
  });

  if (headers.size === 0 && raws.length === 0) {
    throw new AtlasError(
      'MALFORMED_DUMP',
      'The partition table dump is empty (no headers, no partitions).',
      {},
    );
  }
  // sfdisk creates a dos label when the script names none
  const label = (headers.get('label')?.value ?? 'dos') as PartitionLabel;
  return resolve(label, headers, raws, options);
}

function isHeaderLine(line: string): boolean {
  const colon = line.indexOf(':');
  return colon > 0 && colon < line.length - 1 && !line.includes('=');
}

function parseHeader(
  line: string,
  lineNo: number,
  headers: Map<string, { value: string; line: number }>,
): void {
  const colon = line.indexOf(':');
  const name = line.slice(0, colon).trim();
  const value = line.slice(colon + 1).trim();
  if (!name || !value) throw new Malformed(lineNo, `header "${line}" has no value`);
  if (!HEADER_NAMES.has(name)) throw new Malformed(lineNo, `unknown header "${name}"`);
  if (name === 'label' && value !== 'dos' && value !== 'gpt') {
    throw new Malformed(lineNo, `label "${value}" is not supported (only dos and gpt)`);
  }
  if (name === 'unit' && value !== 'sectors')
    throw new Malformed(lineNo, `unit must be "sectors", not "${value}"`);
  headers.set(name, { value, line: lineNo });
}

/** One token as libfdisk's next_token() cuts it: up to a blank, comma or semicolon; quotes group. */
function nextToken(state: { s: string }, lineNo: number, field: string): string {
  const s = state.s.replace(/^[ \t]+/, '');
  let token: string;
  let rest: string;
  if (s.startsWith('"')) {
    const close = s.indexOf('"', 1);
    if (close < 0) throw new Malformed(lineNo, `${field}: missing closing quote`);
    token = s.slice(1, close);
    rest = s.slice(close + 1);
  } else {
    token = /^[^ \t,;"]*/.exec(s)![0];
    rest = s.slice(token.length);
  }
  const afterBlanks = rest.replace(/^[ \t]+/, '');
  if (afterBlanks.startsWith(',') || afterBlanks.startsWith(';')) rest = afterBlanks.slice(1);
  else if (afterBlanks !== '' && afterBlanks === rest) {
    throw new Malformed(lineNo, `${field}: unexpected "${rest}" after "${token}"`);
  } else rest = afterBlanks;
  state.s = rest.replace(/^[ \t]+/, '');
  return token;
}

/**
 * A number as util-linux parse_size() reads it: decimal, 0x hex or 0-prefixed octal (strtoumax base 0),
 * optionally with a K/M/G… suffix (KiB = 1024, KB = 1000). `suffixed` tells the caller it is bytes.
 */
function parseSize(token: string, lineNo: number, field: string): { value: bigint; suffixed: boolean } {
  const m = /^(0x[0-9a-f]+|\d+)(?:([KMGTPEZY])(iB|B)?)?$/i.exec(token);
  if (!m || /^0\d*[89]/.test(m[1]!)) throw new Malformed(lineNo, `${field}: "${token}" is not a number`);
  const digits = m[1]!;
  let value = /^0[0-7]+$/.test(digits) ? BigInt('0o' + digits.slice(1)) : BigInt(digits);
  if (m[2]) {
    const power = 'KMGTPEZY'.indexOf(m[2].toUpperCase()) + 1;
    value *= (m[3] === 'B' ? 1000n : 1024n) ** BigInt(power);
  }
  return { value, suffixed: m[2] !== undefined };
}

function toSafe(value: bigint, lineNo: number, field: string): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new Malformed(lineNo, `${field}: ${value} is too large`);
  return Number(value);
}

/** Sectors: a plain number is sectors, a suffixed one is bytes (rounded down to sectors, as sfdisk does). */
function parseSectors(token: string, lineNo: number, field: string): number {
  const { value, suffixed } = parseSize(token, lineNo, field);
  return toSafe(suffixed ? value / BigInt(SECTOR) : value, lineNo, field);
}

/** sfdisk's \xHH escapes in names (unhexmangle). */
function unescapeName(text: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < text.length;) {
    const m = /^\\x([0-9a-fA-F]{2})/.exec(text.slice(i, i + 4));
    if (m) {
      bytes.push(parseInt(m[1]!, 16));
      i += 4;
    } else {
      for (const b of Buffer.from(text[i]!, 'utf8')) bytes.push(b);
      i += 1;
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

function parseNamedFields(line: string, lineNo: number): RawPartition {
  const raw: RawPartition = { line: lineNo, sizeRelative: false, bootable: false };
  let body = line;
  const colon = line.indexOf(':');
  const equals = line.indexOf('=');
  if (colon >= 0 && colon < equals) {
    const device = line.slice(0, colon).trim();
    const digits = /(\d+)$/.exec(device);
    if (digits) raw.number = Number(digits[1]);
    if (raw.number === 0) throw new Malformed(lineNo, `partition name "${device}" gives number 0`);
    body = line.slice(colon + 1);
  }
  const state = { s: body.replace(/^[ \t]+/, '') };
  while (state.s !== '') {
    const m = /^([A-Za-z-]+)(=?)/.exec(state.s);
    const key = m ? m[1]!.toLowerCase() : '';
    if (m && !m[2] && key === 'bootable') {
      state.s = state.s.slice(m[0].length);
      nextToken(state, lineNo, 'bootable');
      raw.bootable = true;
      continue;
    }
    if (!m || !m[2]) throw new Malformed(lineNo, `cannot read "${state.s}" (expected name=value)`);
    state.s = state.s.slice(m[0].length);
    switch (key) {
      case 'start':
      case 'size': {
        setStartOrSize(raw, key, nextToken(state, lineNo, key), lineNo);
        break;
      }
      case 'type':
      case 'id':
        raw.type = nextToken(state, lineNo, 'type');
        if (!raw.type) throw new Malformed(lineNo, 'type= has no value');
        break;
      case 'uuid':
        raw.uuid = nextToken(state, lineNo, 'uuid');
        if (!isGuid(raw.uuid)) throw new Malformed(lineNo, `uuid "${raw.uuid}" is not a GUID`);
        raw.uuid = raw.uuid.toUpperCase();
        break;
      case 'name':
        raw.name = unescapeName(nextToken(state, lineNo, 'name'));
        break;
      case 'attrs':
        raw.attrs = nextToken(state, lineNo, 'attrs');
        break;
      default:
        throw new Malformed(lineNo, `unknown field "${m[1]}="`);
    }
  }
  return raw;
}

/** '', '-' and '+' leave the value to sfdisk's default; a suffixed size is "relative" (its end gets aligned). */
function setStartOrSize(raw: RawPartition, key: 'start' | 'size', token: string, lineNo: number): void {
  if (token === '' || token === '-' || token === '+') {
    delete raw[key];
    return;
  }
  const { value, suffixed } = parseSize(token, lineNo, key);
  raw[key] = toSafe(suffixed ? value / BigInt(SECTOR) : value, lineNo, key);
  if (key === 'size') raw.sizeRelative = suffixed;
}

function parseCommaFields(line: string, lineNo: number): RawPartition {
  const raw: RawPartition = { line: lineNo, sizeRelative: false, bootable: false };
  const items = line.split(/[,;]/).map((item) => item.trim());
  if (items.length > 4)
    throw new Malformed(lineNo, `too many fields in "${line}" (start, size, type, bootable)`);
  const [start = '', size = '', type = '', boot = ''] = items;
  setStartOrSize(raw, 'start', start, lineNo);
  setStartOrSize(raw, 'size', size, lineNo);
  if (type !== '' && type !== '-') raw.type = type.replace(/^"(.*)"$/, '$1');
  if (boot === '*' || boot === '+') raw.bootable = true;
  else if (boot !== '' && boot !== '-')
    throw new Malformed(lineNo, `bootable field "${boot}" is not *, + or -`);
  return raw;
}

function dosType(value: string, lineNo: number): string {
  const code = DOS_TYPE_CUTS[value] ?? value;
  if (!/^(0x)?[0-9a-f]{1,2}$/i.test(code))
    throw new Malformed(lineNo, `type "${value}" is not an MBR type code`);
  const n = parseInt(code.replace(/^0x/i, ''), 16);
  return n.toString(16);
}

function gptType(value: string, lineNo: number): string {
  const guid = GPT_TYPE_CUTS[value] ?? value;
  if (!isGuid(guid)) throw new Malformed(lineNo, `type "${value}" is not a GPT type GUID`);
  if (/^0{8}-0{4}-0{4}-0{4}-0{12}$/.test(guid))
    throw new Malformed(lineNo, 'the zero type GUID means an unused entry');
  return guid.toUpperCase();
}

function headerNumber(
  headers: Map<string, { value: string; line: number }>,
  name: string,
): { value: number; line: number } | undefined {
  const h = headers.get(name);
  if (!h) return undefined;
  return { value: parseSectors(h.value, h.line, name), line: h.line };
}

/** libfdisk's LBA alignment (fdisk_align_lba, fdisk_align_lba_in_range) for a grain of `g` sectors. */
function aligner(g: number) {
  const up = (lba: number): number => Math.ceil(lba / g) * g;
  const down = (lba: number): number => Math.floor(lba / g) * g;
  const nearest = (lba: number): number =>
    lba % g === 0
      ? lba
      : lba < DEFAULT_GRAIN_SECTORS
        ? DEFAULT_GRAIN_SECTORS
        : Math.floor((lba + g / 2) / g) * g;
  const inRange = (lba: number, start: number, stop: number): number => {
    if (start + g <= stop) {
      start = up(start);
      stop = down(stop);
    }
    if (start + g > stop) return lba;
    const res = nearest(lba);
    return res < start ? start : res > stop ? stop : res;
  };
  return { up, down, inRange };
}

/** sfdisk's default partition number on dos (dos_add_partition): logical once primaries or their space run out. */
function defaultNumber(
  label: PartitionLabel,
  raw: RawPartition,
  placed: PartitionEntry[],
  extended: PartitionEntry | undefined,
  totalSectors: number | undefined,
): number {
  const used = new Set(placed.map((p) => p.number));
  const firstFree = (from: number, to: number): number | undefined => {
    for (let n = from; n <= to; n++) if (!used.has(n)) return n;
    return undefined;
  };
  if (label === 'gpt') return firstFree(1, Number.MAX_SAFE_INTEGER)!;
  let logical = false;
  if (extended && raw.start !== undefined) {
    logical = raw.start >= extended.start && raw.start < extended.start + extended.size;
  } else if (extended) {
    let first = DEFAULT_GRAIN_SECTORS;
    let freeSectors = false;
    for (let n = 1; n <= 4; n++) {
      const p = placed.find((q) => q.number === n);
      if (!p) continue;
      if (first + DEFAULT_GRAIN_SECTORS <= p.start) freeSectors = true;
      first = p.start + p.size;
    }
    if (first + DEFAULT_GRAIN_SECTORS - 1 <= (totalSectors ?? Infinity) - 1) freeSectors = true;
    logical = firstFree(1, 4) === undefined || !freeSectors;
  }
  if (logical) return Math.max(4, ...used) + 1;
  const primary = firstFree(1, 4);
  if (primary === undefined) {
    throw new Malformed(
      raw.line,
      'all four primary partition slots are in use and there is no extended partition',
    );
  }
  return primary;
}

/** GPT's default start: the first sector of the largest free gap, aligned (find_first_in_largest). */
function firstInLargestGap(
  placed: PartitionEntry[],
  firstLba: number,
  endExclusive: number,
  align: ReturnType<typeof aligner>,
): number {
  const sorted = [...placed].sort((a, b) => a.start - b.start);
  let best = { start: firstLba, length: -1 };
  let cursor = firstLba;
  for (const p of [...sorted, { start: endExclusive, size: 0 }]) {
    if (p.start > cursor && p.start - cursor > best.length)
      best = { start: cursor, length: p.start - cursor };
    cursor = Math.max(cursor, p.start + p.size);
  }
  return align.inRange(best.start, best.start, best.start + best.length - 1);
}

function resolve(
  label: PartitionLabel,
  headers: Map<string, { value: string; line: number }>,
  raws: RawPartition[],
  options: ParseOptions,
): PartitionTable {
  const table: PartitionTable = { label, id: '', sectorSize: SECTOR, partitions: [] };
  const sectorSize = headerNumber(headers, 'sector-size');
  if (sectorSize && sectorSize.value !== SECTOR) {
    throw new AtlasError(
      'UNSUPPORTED',
      `The dump is for ${sectorSize.value}-byte sectors; only 512 is supported.`,
      {
        line: sectorSize.line,
      },
    );
  }
  const grain = headers.get('grain');
  if (grain) table.grain = toSafe(parseSize(grain.value, grain.line, 'grain').value, grain.line, 'grain');
  const grainSectors = table.grain ? Math.max(1, Math.floor(table.grain / SECTOR)) : DEFAULT_GRAIN_SECTORS;

  const id = headers.get('label-id');
  if (label === 'dos') {
    if (id) {
      const m = /^(0x)?([0-9a-f]{1,8})$/i.exec(id.value);
      if (!m) throw new Malformed(id.line, `label-id "${id.value}" is not a 32-bit hex number`);
      table.id = '0x' + m[2]!.toLowerCase().padStart(8, '0');
    } else {
      table.id = '0x' + randomBytes(4).toString('hex');
    }
    for (const h of ['first-lba', 'last-lba', 'table-length']) {
      const bad = headers.get(h);
      if (bad) throw new Malformed(bad.line, `"${h}" is a GPT header, this is a dos dump`);
    }
  } else {
    if (id && !isGuid(id.value)) throw new Malformed(id.line, `label-id "${id.value}" is not a GUID`);
    table.id = id ? id.value.toUpperCase() : randomUUID().toUpperCase();
    const first = headerNumber(headers, 'first-lba');
    const last = headerNumber(headers, 'last-lba');
    const length = headerNumber(headers, 'table-length');
    if (length) {
      if (length.value < 1 || length.value > 4096) {
        throw new Malformed(length.line, `table-length ${length.value} is out of range`);
      }
      if (length.value !== 128) table.tableLength = length.value;
    }
    if (first) table.firstLba = first.value;
    if (last) table.lastLba = last.value;
    if (first && last && first.value > last.value)
      throw new Malformed(last.line, 'last-lba is before first-lba');
  }

  const used = new Set<number>();
  const maxNumber = label === 'dos' ? 64 : (table.tableLength ?? 128);
  // sfdisk adds the partitions one by one: defaults see only the partitions of the lines before
  const placed: (PartitionEntry & { line: number })[] = [];
  const diskEnd = (line: number, number: number): number => {
    if (label === 'gpt') {
      if (options.totalSectors !== undefined)
        return gptLastUsable(options.totalSectors, table.tableLength ?? 128) + 1;
      if (table.lastLba !== undefined) return table.lastLba + 1;
    } else if (options.totalSectors !== undefined) {
      return options.totalSectors;
    }
    throw new AtlasError(
      'INVALID_ARGUMENT',
      `Partition table dump, line ${line}: partition ${number} runs to the end of the disk; the target size is needed to resolve it.`,
      { line },
    );
  };
  for (const raw of raws) {
    const type = raw.type
      ? label === 'dos'
        ? dosType(raw.type, raw.line)
        : gptType(raw.type, raw.line)
      : label === 'dos'
        ? '83'
        : GPT_TYPE_CUTS.L!;
    const extended = placed.find((p) => p.number <= 4 && isExtended(label, p));
    const number = raw.number ?? defaultNumber(label, raw, placed, extended, options.totalSectors);
    if (number > maxNumber) throw new Malformed(raw.line, `partition number ${number} is out of range`);
    if (used.has(number)) throw new Malformed(raw.line, `partition number ${number} appears twice`);
    used.add(number);

    // the space this partition lives in: the extended partition for logical ones, else the disk
    const logical = label === 'dos' && number > 4;
    if (logical && !extended) {
      throw new Malformed(
        raw.line,
        `partition ${number} is logical but no extended partition comes before it`,
      );
    }
    const neighbours = placed.filter((p) => (label === 'dos' ? p.number > 4 === logical : true));
    const align = aligner(grainSectors);
    let start = raw.start;
    if (start === undefined) {
      if (label === 'gpt') {
        start = firstInLargestGap(
          neighbours,
          table.firstLba ?? DEFAULT_GRAIN_SECTORS,
          diskEnd(raw.line, number),
          align,
        );
      } else {
        // first free aligned sector; a logical one keeps first-lba (2048) sectors in front for its EBR
        const gap = logical ? DEFAULT_GRAIN_SECTORS : 0;
        start = align.up(logical ? extended!.start + gap : DEFAULT_GRAIN_SECTORS);
        for (let moved = true; moved;) {
          moved = false;
          for (const p of neighbours) {
            if (start >= p.start - gap && start < p.start + p.size + gap) {
              start = align.up(p.start + p.size + gap);
              moved = true;
            }
          }
        }
      }
    }
    if (raw.size === 0) throw new Malformed(raw.line, 'size is 0');
    let size = raw.size;
    if (size === undefined || raw.sizeRelative) {
      // last free sector from `start` (inclusive), as libfdisk's find_last_free
      const following = neighbours.filter((p) => p.start > start!).map((p) => p.start);
      const regionEnd = logical ? extended!.start + extended!.size : diskEnd(raw.line, number);
      const limit = Math.min(regionEnd, ...following) - 1;
      let stop: number;
      if (label === 'gpt') {
        const dflt = limit === regionEnd - 1 ? align.inRange(limit, start, limit) - 1 : limit;
        if (size === undefined) stop = dflt;
        else {
          stop = start + size - 1;
          if (stop !== dflt && stop - start > grainSectors) {
            stop = align.inRange(stop, start, dflt);
            if (stop > start) stop -= 1;
          }
        }
      } else if (size === undefined) {
        stop = limit;
      } else {
        // libfdisk keeps start + size (one past) for relative sizes and aligns that, except tiny ones
        stop = Math.min(start + size, limit);
        if (stop - start >= grainSectors && stop < limit) {
          stop = align.inRange(stop, start, limit);
          if (stop > start) stop -= 1;
          stop = Math.min(stop, limit);
        }
      }
      size = stop - start + 1;
      if (size <= 0) throw new Malformed(raw.line, `no room for partition ${number} at sector ${start}`);
    }
    const entry: PartitionEntry & { line: number } = { line: raw.line, number, start, size, type };
    if (label === 'dos') {
      entry.bootable = raw.bootable;
      if (raw.uuid || raw.name !== undefined || raw.attrs !== undefined) {
        throw new Malformed(raw.line, 'uuid=, name= and attrs= are GPT fields, this is a dos dump');
      }
    } else {
      if (raw.bootable) {
        throw new Malformed(raw.line, '"bootable" is a dos flag, use attrs="LegacyBIOSBootable" on GPT');
      }
      entry.uuid = raw.uuid ?? randomUUID().toUpperCase();
      if (raw.name) entry.name = raw.name;
      if (raw.attrs !== undefined) {
        try {
          entry.attrs = gptAttrsToString(gptAttrsFromString(raw.attrs));
        } catch (error) {
          throw new Malformed(raw.line, (error as Error).message);
        }
      }
    }
    placed.push(entry);
  }
  table.partitions = placed.map(({ line: _line, ...entry }) => entry);
  if (label === 'dos') table.partitions.sort((a, b) => a.number - b.number);
  return table;
}

function isExtended(label: PartitionLabel, p: PartitionEntry): boolean {
  return label === 'dos' && ['5', 'f', '85'].includes(p.type);
}

/** Last usable LBA of a GPT disk of `totalSectors` with `entries` 128-byte entries (backup at the end). */
export function gptLastUsable(totalSectors: number, entries = 128): number {
  return totalSectors - 2 - Math.ceil((entries * 128) / SECTOR);
}

const NAMED_ATTRS: [string, number][] = [
  ['RequiredPartition', 0],
  ['RequiredPartiton', 0],
  ['NoBlockIOProtocol', 1],
  ['LegacyBIOSBootable', 2],
];

/** Parses an attrs string as libfdisk does and returns its bits; throws on unknown words. */
export function gptAttrsFromString(text: string): bigint {
  let bits = 0n;
  let p = text;
  while (p.length > 0) {
    p = p.replace(/^[ \t]+/, '');
    if (!p) break;
    let bit = -1;
    const named = NAMED_ATTRS.find(([word]) => p.startsWith(word));
    if (named) {
      bit = named[1];
      p = p.slice(named[0].length);
    } else {
      const m = /^(?:GUID:)?(\d+)/.exec(p);
      if (m) {
        const n = Number(m[1]);
        if (n >= 48 && n < 64) bit = n;
        p = p.slice(m[0].length);
      }
    }
    if (bit < 0) throw new Error(`unsupported GPT attribute "${text}"`);
    if (p && p[0] !== ',' && p[0] !== ' ' && p[0] !== '\t')
      throw new Error(`cannot read GPT attributes "${text}"`);
    bits |= 1n << BigInt(bit);
    p = p.replace(/^[ \t]+/, '');
    if (p.startsWith(',')) p = p.slice(1);
  }
  return bits;
}
