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
  /** `size=+` or no size: up to the next partition or the end */
  sizeToEnd: boolean;
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

  const labelHeader = headers.get('label');
  if (!labelHeader) {
    throw new AtlasError('MALFORMED_DUMP', 'Partition table dump: no "label:" header (dos or gpt).', {});
  }
  const label = labelHeader.value as PartitionLabel;
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
  const raw: RawPartition = { line: lineNo, sizeToEnd: true, bootable: false };
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
        const token = nextToken(state, lineNo, key);
        if (key === 'size' && (token === '+' || token === '' || token === '-')) {
          raw.sizeToEnd = true;
          raw.size = undefined;
          break;
        }
        if (key === 'start' && (token === '' || token === '-' || token === '+')) {
          raw.start = undefined;
          break;
        }
        const value = parseSectors(token, lineNo, key);
        if (key === 'start') raw.start = value;
        else {
          raw.size = value;
          raw.sizeToEnd = false;
        }
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

function parseCommaFields(line: string, lineNo: number): RawPartition {
  const raw: RawPartition = { line: lineNo, sizeToEnd: true, bootable: false };
  const items = line.split(/[,;]/).map((item) => item.trim());
  if (items.length > 4)
    throw new Malformed(lineNo, `too many fields in "${line}" (start, size, type, bootable)`);
  const [start = '', size = '', type = '', boot = ''] = items;
  if (start !== '' && start !== '-' && start !== '+') raw.start = parseSectors(start, lineNo, 'start');
  if (size !== '' && size !== '-' && size !== '+') {
    raw.size = parseSectors(size, lineNo, 'size');
    raw.sizeToEnd = false;
  }
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
  if (n === 0) throw new Malformed(lineNo, 'type 0 means an empty slot');
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

const alignUp = (lba: number, grain: number): number => Math.ceil(lba / grain) * grain;

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
  let previousEnd = 0; // first sector after the previous partition
  const resolved: (PartitionEntry & { line: number; sizeToEnd: boolean })[] = [];
  for (const raw of raws) {
    let number = raw.number;
    if (number === undefined) {
      // first free number; on dos, past the four primary slots the next logical one
      number = 1;
      while (used.has(number) && !(label === 'dos' && number === 4)) number++;
      if (used.has(number)) number = Math.max(4, ...used) + 1;
    }
    if (number > maxNumber) throw new Malformed(raw.line, `partition number ${number} is out of range`);
    if (used.has(number)) throw new Malformed(raw.line, `partition number ${number} appears twice`);
    used.add(number);
    const type = raw.type
      ? label === 'dos'
        ? dosType(raw.type, raw.line)
        : gptType(raw.type, raw.line)
      : label === 'dos'
        ? '83'
        : GPT_TYPE_CUTS.L!;
    const firstUsable = label === 'gpt' ? (table.firstLba ?? DEFAULT_GRAIN_SECTORS) : DEFAULT_GRAIN_SECTORS;
    const start = raw.start ?? alignUp(Math.max(previousEnd, firstUsable), grainSectors);
    const entry: PartitionEntry & { line: number; sizeToEnd: boolean } = {
      line: raw.line,
      sizeToEnd: raw.sizeToEnd,
      number,
      start,
      size: raw.size ?? 0,
      type,
    };
    if (label === 'dos') {
      entry.bootable = raw.bootable;
      if (raw.uuid || raw.name !== undefined || raw.attrs !== undefined) {
        throw new Malformed(raw.line, 'uuid=, name= and attrs= are GPT fields, this is a dos dump');
      }
    } else {
      if (raw.bootable)
        throw new Malformed(raw.line, '"bootable" is a dos flag, use attrs="LegacyBIOSBootable" on GPT');
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
    if (raw.size === 0) throw new Malformed(raw.line, 'size is 0');
    resolved.push(entry);
    previousEnd = entry.sizeToEnd ? start + 1 : start + entry.size;
  }

  // open sizes run to the next partition's start, or to the end of the disk
  const byStart = [...resolved].sort((a, b) => a.start - b.start);
  for (const entry of resolved) {
    if (!entry.sizeToEnd) continue;
    const next = byStart.find((p) => p.start > entry.start && !isContainer(label, p, entry));
    let end: number;
    if (next && !isExtended(label, entry)) end = next.start;
    else if (label === 'gpt' && table.lastLba !== undefined && options.totalSectors === undefined)
      end = table.lastLba + 1;
    else if (options.totalSectors !== undefined) {
      end =
        label === 'gpt'
          ? Math.min(
              gptLastUsable(options.totalSectors, table.tableLength ?? 128) + 1,
              table.lastLba !== undefined ? table.lastLba + 1 : Infinity,
            )
          : options.totalSectors;
    } else {
      throw new AtlasError(
        'INVALID_ARGUMENT',
        `Partition table dump, line ${entry.line}: the size of partition ${entry.number} runs to the end of the disk; the target size is needed to resolve it.`,
        { line: entry.line },
      );
    }
    if (end <= entry.start)
      throw new Malformed(entry.line, `no room for partition ${entry.number} at sector ${entry.start}`);
    entry.size = end - entry.start;
  }
  table.partitions = resolved.map(({ line: _line, sizeToEnd: _open, ...entry }) => entry);
  if (label === 'dos') table.partitions.sort((a, b) => a.number - b.number);
  return table;
}

function isExtended(label: PartitionLabel, p: PartitionEntry): boolean {
  return label === 'dos' && ['5', 'f', '85'].includes(p.type);
}

/** A logical partition inside `entry` when `entry` is the extended one (it does not bound its size). */
function isContainer(label: PartitionLabel, candidate: PartitionEntry, entry: PartitionEntry): boolean {
  return label === 'dos' && isExtended(label, entry) && candidate.number > 4;
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
