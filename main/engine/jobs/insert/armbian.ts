/**
 * Recognising a base Armbian image for the Raspberry Pi 4B (MBR, FAT32 firmware partition, ext4 root with
 * /etc/armbian-release), reading its version facts, and telling a base from an image that already carries the
 * Atlas firstboot (a Phase 0 golden image or a Phase 1 clone), which Insert must refuse.
 * Facts: docs/armbian-rpi4b.md. Nothing here writes to the image.
 */
import { basename, posix } from 'node:path';
import { AtlasError, isAtlasError, throwIfCancelled } from '../../errors';
import { openBlockFile } from '../../io/block-file';
import { openHeadBlockFile, type DecodedHead } from '../../compress/decoded-head';
import { readPartitionTable, type PartitionEntry, type PartitionTable } from '../../partition';
import { isFat, readFatInfo } from '../../fs/fat';
import { isExt, readExtInfo } from '../../fs/ext';
import { withExt4, type Ext4Session } from '../../fs/ext4-inject';
import { DEFAULT_DESTINATIONS, type InsertDestinations } from './profile';

/** What an Armbian file name says (armbian/build lib/functions/image/rootfs-to-image.sh). */
export interface ArmbianFileName {
  /** 'Armbian' for official builds, 'Armbian-unofficial' for others */
  vendor: string;
  version: string;
  /** as in the name: the board with its first letter capitalised ('Rpi4b') */
  board: string;
  release: string;
  branch: string;
  kernel: string;
  desktop: string | null;
  /** EXTRA_IMAGE_SUFFIX, e.g. '-ci' */
  suffix: string | null;
  variant: 'minimal' | 'desktop' | null;
  nfsboot: boolean;
}

// Same groups as the regex in docs/armbian-rpi4b.md §5, written for JavaScript; compression suffixes are
// stripped before matching so .img.gz, .img.zst and .zip names decode too.
const NAME_RE =
  /^([A-Za-z0-9-]+)_(\d+\.\d+\.\d+(?:-trunk(?:\.\d+)?)?)_([A-Z][A-Za-z0-9-]*)_([a-z]+)_([a-z0-9]+)_(\d+\.\d+\.\d+)(?:_([a-z0-9-]+?))??((?:-[a-z0-9]+)*)(?:_(minimal|desktop))?(_nfsboot)?$/;

/** Decodes `Armbian_26.2.1_Rpi4b_trixie_current_6.18.9_minimal.img.xz`; null for other names. */
export function parseArmbianFileName(fileName: string): ArmbianFileName | null {
  const stem = basename(fileName)
    .replace(/\.(xz|gz|zst|zip)$/i, '')
    .replace(/\.img$/i, '');
  const m = NAME_RE.exec(stem);
  if (!m) return null;
  return {
    vendor: m[1]!,
    version: m[2]!,
    board: m[3]!,
    release: m[4]!,
    branch: m[5]!,
    kernel: m[6]!,
    desktop: m[7] ?? null,
    suffix: m[8] ? m[8] : null,
    variant: (m[9] as 'minimal' | 'desktop' | undefined) ?? null,
    nfsboot: Boolean(m[10]),
  };
}

/** Parses KEY=VALUE lines as /etc/armbian-release and /etc/os-release write them (shell quoting, # comments). */
export function parseShellAssignments(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) continue;
    let value = m[2]!.trim();
    if (value.length >= 2 && (value[0] === '"' || value[0] === "'") && value.endsWith(value[0])) {
      const quote = value[0];
      value = value.slice(1, -1);
      if (quote === '"') value = value.replace(/\\(["\\$`])/g, '$1');
    }
    out[m[1]!] = value;
  }
  return out;
}

/** One partition of the base, in bytes. */
export interface BasePartition {
  number: number;
  /** byte offset in the image */
  offset: number;
  /** bytes */
  size: number;
  /** MBR type code as sfdisk prints it ('b', 'c', '83') */
  type: string;
  label: string;
  uuid: string;
}

export interface ArmbianBase {
  /** file name as given (for display and the manifest) */
  name: string;
  /** Armbian version, e.g. '26.2.1' (VERSION of /etc/armbian-release) */
  version: string;
  /** BOARD, e.g. 'rpi4b' */
  board: string;
  boardName: string | null;
  /** BOARDFAMILY, e.g. 'bcm2711' */
  boardFamily: string;
  /** os-release VERSION_CODENAME, e.g. 'trixie' */
  release: string | null;
  /** kernel branch ('current', 'edge', 'legacy'): BRANCH if the release file has it, else the file name or modules folder */
  branch: string | null;
  /** kernel version ('6.18.9'), from the file name or /usr/lib/modules */
  kernel: string | null;
  /** 'minimal' | 'desktop' from the file name */
  variant: string | null;
  arch: string | null;
  imageType: string | null;
  /** what the file name says, when it is an Armbian name */
  fileName: ArmbianFileName | null;
  /** the raw fields of /etc/armbian-release */
  releaseFields: Record<string, string>;
  table: PartitionTable;
  boot: BasePartition;
  root: BasePartition;
  /** the root superblock's mount count and last mount time, which golden-release records (library/lineage.ts) */
  rootMounts: { mountCount: number; lastMountTime: number };
}

export interface InspectOptions {
  /** the name to decode (the original file name when `imagePath` is a decompressed copy) */
  name?: string;
  /** destinations whose presence means the Atlas firstboot is already in; default the profile defaults */
  destinations?: InsertDestinations;
  /** boards accepted; default ['rpi4b'] */
  boards?: string[];
  signal?: AbortSignal | undefined;
  /**
   * `imagePath` is an archive's image being decoded (compress/decoded-head.ts): each read waits for its bytes,
   * so only what recognition reads is decoded
   */
  decoding?: DecodedHead;
}

export interface ArmbianInspection extends ArmbianBase {
  /** paths inside the root filesystem that show an Atlas image (golden or clone); empty for a base */
  atlasMarkers: string[];
}

const FAT_TYPES = new Set(['1', '4', '6', 'b', 'c', 'e', 'ef']);
const LINUX_TYPE = '83';

function notArmbian(name: string, why: string): AtlasError {
  return new AtlasError(
    'NOT_ARMBIAN_BASE',
    `${name} is not a base Armbian image for the Raspberry Pi 4B: ${why}. Use the Armbian rpi4b image as ` +
      'downloaded (for example Armbian_26.2.1_Rpi4b_trixie_current_6.18.9_minimal.img.xz).',
    { image: name },
  );
}

/** The paths that mark an image Insert has already been through (or a clone of one). */
export function atlasMarkerPaths(destinations: InsertDestinations = DEFAULT_DESTINATIONS): string[] {
  const unit = posix.basename(destinations.service);
  return [
    destinations.goldenRelease,
    destinations.secrets,
    destinations.firstboot,
    destinations.service,
    `/etc/systemd/system/multi-user.target.wants/${unit}`,
  ];
}

async function readText(ext4: Ext4Session, path: string): Promise<string | null> {
  const st = await ext4.stat(path);
  if (st === null) return null;
  if (st.type === 'symlink') {
    const target = await ext4.readlink(path);
    return readText(ext4, posix.resolve(posix.dirname(path), target));
  }
  return st.type === 'file' ? (await ext4.readFile(path)).toString('utf8') : null;
}

/** The kernel folder name under /usr/lib/modules: '6.18.9-current-bcm2711' → kernel and branch. */
async function kernelFromModules(ext4: Ext4Session): Promise<{ kernel: string; branch: string } | null> {
  for (const dir of ['/usr/lib/modules', '/lib/modules']) {
    const st = await ext4.stat(dir);
    if (st?.type !== 'directory') continue;
    for (const name of await ext4.readdir(dir)) {
      const m = /^(\d+\.\d+\.\d+)-([a-z0-9]+)-[a-z0-9]+$/.exec(name);
      if (m) return { kernel: m[1]!, branch: m[2]! };
    }
  }
  return null;
}

function toBasePartition(
  entry: PartitionEntry,
  sectorSize: number,
  label: string,
  uuid: string,
): BasePartition {
  return {
    number: entry.number,
    offset: entry.start * sectorSize,
    size: entry.size * sectorSize,
    type: entry.type,
    label,
    uuid,
  };
}

/**
 * Reads what Insert needs to know about an image without changing a byte of it. Throws NOT_ARMBIAN_BASE
 * when it is not an Armbian rpi4b image; an Atlas image is reported through `atlasMarkers`, not refused here.
 */
export async function inspectArmbianImage(
  imagePath: string,
  options: InspectOptions = {},
): Promise<ArmbianInspection> {
  const name = options.name ?? basename(imagePath);
  const boards = options.boards ?? ['rpi4b'];
  throwIfCancelled(options.signal);
  const { decoding } = options;
  const file = decoding ? await openHeadBlockFile(decoding) : await openBlockFile(imagePath);
  let table: PartitionTable;
  let boot: BasePartition;
  let root: BasePartition;
  let rootMounts: ArmbianBase['rootMounts'];
  try {
    try {
      table = await readPartitionTable(file);
    } catch (error) {
      // a failed read (or decoding, or a cancel) is said as itself, not as a missing table
      if (isAtlasError(error) && !['IO_ERROR', 'CORRUPT_ARCHIVE', 'CANCELLED'].includes(error.code))
        throw notArmbian(name, 'it has no MBR partition table');
      throw error;
    }
    if (table.label !== 'dos')
      throw notArmbian(name, `its partition table is ${table.label.toUpperCase()}, not MBR`);
    const parts = [...table.partitions].sort((a, b) => a.number - b.number);
    const p1 = parts.find((p) => p.number === 1);
    const p2 = parts.find((p) => p.number === 2);
    if (!p1 || !p2)
      throw notArmbian(name, 'it does not have the two partitions (firmware, root) Armbian makes');
    const ss = table.sectorSize;
    for (const p of [p1, p2]) {
      if ((p.start + p.size) * ss > file.size) {
        throw notArmbian(name, `partition ${p.number} runs past the end of the file (a truncated image?)`);
      }
    }
    if (!FAT_TYPES.has(p1.type) || !(await isFat(file, p1.start * ss))) {
      throw notArmbian(name, 'partition 1 is not a FAT firmware partition');
    }
    if (p2.type !== LINUX_TYPE || !(await isExt(file, p2.start * ss))) {
      throw notArmbian(name, 'partition 2 is not an ext4 root filesystem');
    }
    const fat = await readFatInfo(file, p1.start * ss);
    const ext = await readExtInfo(file, p2.start * ss);
    if (ext.type !== 'ext4') throw notArmbian(name, `partition 2 is ${ext.type}, not ext4`);
    boot = toBasePartition(p1, ss, fat.label, fat.uuid);
    root = toBasePartition(p2, ss, ext.label, ext.uuid);
    rootMounts = { mountCount: ext.mountCount, lastMountTime: ext.lastMountTime };
  } finally {
    await file.close();
  }

  const ext4Options = {
    offset: root.offset,
    signal: options.signal,
    ...(decoding ? { waitFor: (end: number) => decoding.ensure(end) } : {}),
  };
  return withExt4(imagePath, ext4Options, async (ext4) => {
    const releaseText = await readText(ext4, '/etc/armbian-release');
    if (releaseText === null) throw notArmbian(name, 'its root filesystem has no /etc/armbian-release');
    const fields = parseShellAssignments(releaseText);
    const version = fields.VERSION ?? fields.REVISION;
    const board = fields.BOARD;
    if (!version || !board) throw notArmbian(name, '/etc/armbian-release has no VERSION or BOARD');
    if (!boards.includes(board))
      throw notArmbian(name, `it is built for the board "${board}", not ${boards.join(' or ')}`);
    const osRelease = parseShellAssignments(
      (await readText(ext4, '/etc/os-release')) ?? (await readText(ext4, '/usr/lib/os-release')) ?? '',
    );
    const fromName = parseArmbianFileName(name);
    const modules = await kernelFromModules(ext4);
    const atlasMarkers: string[] = [];
    for (const marker of atlasMarkerPaths(options.destinations)) {
      if (await ext4.exists(marker)) atlasMarkers.push(marker);
    }
    return {
      name,
      version,
      board,
      boardName: fields.BOARD_NAME ?? null,
      boardFamily: fields.BOARDFAMILY ?? fields.LINUXFAMILY ?? '',
      release: osRelease.VERSION_CODENAME ?? fromName?.release ?? null,
      branch: fields.BRANCH ?? fromName?.branch ?? modules?.branch ?? null,
      kernel: fromName?.kernel ?? modules?.kernel ?? null,
      variant: fromName?.variant ?? null,
      arch: fields.ARCH ?? null,
      imageType: fields.IMAGE_TYPE ?? null,
      fileName: fromName,
      releaseFields: fields,
      table,
      boot,
      root,
      rootMounts,
      atlasMarkers,
    };
  });
}

/** inspectArmbianImage, refusing an image that already carries the Atlas firstboot (PHASE_RULE). */
export async function recogniseArmbianBase(
  imagePath: string,
  options: InspectOptions = {},
): Promise<ArmbianInspection> {
  const info = await inspectArmbianImage(imagePath, options);
  if (info.atlasMarkers.length > 0) {
    throw new AtlasError(
      'PHASE_RULE',
      `Insert creates Phase 0 from a base image only: ${info.name} already carries the Atlas firstboot ` +
        `(${info.atlasMarkers[0]}), so it is a golden image or a clone. Start from the base Armbian image; ` +
        'to copy a configured device, use Clone (Phase 1).',
      { image: info.name, markers: info.atlasMarkers },
    );
  }
  return info;
}
