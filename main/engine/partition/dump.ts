/**
 * `sfdisk --dump` text exactly as util-linux 2.38 writes it (libfdisk's write_file_sfdisk), so a dump we
 * write next to a clone is the same file a Linux box running sfdisk would have written.
 */
import type { PartitionEntry, PartitionTable } from './types';

const DEFAULT_GRAIN = 1024 * 1024;

/**
 * The OS name of partition `n` of `disk`: sfdisk's rule (a "p" separator when the name ends in a digit:
 * mmcblk0p1, loop0p1, nvme0n1p1; otherwise sdc1, disk.img1), and macOS's diskNsM.
 */
export function partitionDevicePath(disk: string, n: number): string {
  if (/^(\/dev\/)?r?disk\d+$/.test(disk)) return `${disk}s${n}`;
  return /\d$/.test(disk) ? `${disk}p${n}` : `${disk}${n}`;
}

/** sfdisk's quoting for GPT names: `"` `\` `` ` `` `$` and non-printable bytes (any UTF-8 byte ≥ 0x7f) as \xhh. */
export function quoteDumpString(text: string): string {
  let out = '"';
  for (const byte of Buffer.from(text, 'utf8')) {
    const special = byte === 0x22 || byte === 0x5c || byte === 0x60 || byte === 0x24;
    if (special || byte < 0x20 || byte >= 0x7f) out += '\\x' + byte.toString(16).padStart(2, '0');
    else out += String.fromCharCode(byte);
  }
  return out + '"';
}

const n12 = (value: number): string => String(value).padStart(12, ' ');

function partitionLine(table: PartitionTable, p: PartitionEntry, devicePath: string | undefined): string {
  let line = devicePath ? `${partitionDevicePath(devicePath, p.number)} :` : `${p.number} :`;
  line += ` start=${n12(p.start)}, size=${n12(p.size)}, type=${p.type}`;
  if (table.label === 'gpt') {
    if (p.uuid) line += `, uuid=${p.uuid}`;
    if (p.name) line += `, name=${quoteDumpString(p.name)}`;
    if (p.attrs !== undefined) line += `, attrs="${p.attrs}"`;
  } else if (p.bootable) {
    line += ', bootable';
  }
  return line + '\n';
}

/**
 * Formats `table` as `sfdisk --dump DEVICE` would print it. `devicePath` names the disk in the `device:`
 * header and the partition names; pass '' to leave both out (partition lines then start with the number).
 */
export function formatSfdiskDump(table: PartitionTable, devicePath: string): string {
  const header: [string, string | number][] = [
    ['label', table.label],
    ['label-id', table.id],
  ];
  if (devicePath) header.push(['device', devicePath]);
  header.push(['unit', 'sectors']);
  if (table.label === 'gpt') {
    if (table.firstLba !== undefined) header.push(['first-lba', table.firstLba]);
    if (table.lastLba !== undefined) header.push(['last-lba', table.lastLba]);
    if (table.tableLength !== undefined && table.tableLength !== 128)
      header.push(['table-length', table.tableLength]);
  }
  if (table.grain !== undefined && table.grain !== DEFAULT_GRAIN) header.push(['grain', table.grain]);
  header.push(['sector-size', table.sectorSize]);
  let text = header.map(([name, value]) => `${name}: ${value}\n`).join('');
  if (table.partitions.length === 0) return text;
  text += '\n';
  for (const p of table.partitions) text += partitionLine(table, p, devicePath || undefined);
  return text;
}
