/**
 * The partition table model, shaped after `sfdisk --dump` (util-linux 2.38) so that a dump and a table
 * read from a disk are the same thing. Sizes and starts are in logical sectors.
 */
export type PartitionLabel = 'dos' | 'gpt';

export interface PartitionEntry {
  /** 1-based partition number as the OS names it (sdc1, mmcblk0p2). */
  number: number;
  /** first sector */
  start: number;
  /** length in sectors */
  size: number;
  /** dos: hex code without 0x, lowercase, no leading zero ('c', '83', 'b'); gpt: type GUID, uppercase */
  type: string;
  /** dos active flag */
  bootable?: boolean;
  /** gpt only: partition GUID, uppercase */
  uuid?: string;
  /** gpt only: partition name */
  name?: string;
  /** gpt only: attribute text as sfdisk prints it, e.g. 'LegacyBIOSBootable' or 'GUID:60,62' */
  attrs?: string;
}

export interface PartitionTable {
  label: PartitionLabel;
  /** dos: '0x' + 8 lowercase hex digits; gpt: disk GUID, uppercase */
  id: string;
  /** logical sector size in bytes */
  sectorSize: number;
  /** gpt only */
  firstLba?: number;
  /** gpt only */
  lastLba?: number;
  /** gpt only, when not 128 */
  tableLength?: number;
  /** alignment in bytes, when a dump names one other than sfdisk's default 1 MiB (informational) */
  grain?: number;
  partitions: PartitionEntry[];
}
