/**
 * The drives this machine can see, through drivelist (lsblk on Linux, DiskArbitration on macOS), completed
 * with what drivelist leaves out: the serial, the partitions and which disk holds `/`, the app or the source
 * image (compared by device number, so a bind mount or a symlink cannot fool it). On macOS those facts come from
 * diskutil (platform/darwin.ts), which also tells disk images and APFS containers apart from real disks.
 */
import { execFile } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import { promisify } from 'node:util';
import * as drivelist from 'drivelist';
import { toAtlasError } from '../errors';
import { LARGE_DRIVE_BYTES } from '../../shared/names';
import { darwinFacts, SerialCache } from '../platform/darwin';

const execFileAsync = promisify(execFile);

/** Drives over this size need an extra confirmation: a USB hard disk is more likely than an SD card. */
export { LARGE_DRIVE_BYTES };

export interface Partition {
  device: string;
  mountpoints: string[];
}

export interface Drive {
  /** the path to open: /dev/sdb, /dev/mmcblk0, /dev/disk4 */
  device: string;
  /** the unbuffered path: /dev/rdiskN on macOS, the device itself on Linux */
  raw: string;
  description: string;
  /** bytes; null when the OS does not know (an empty reader) */
  size: number | null;
  /** USB, SD, SATA, NVME, … or UNKNOWN */
  bus: string;
  removable: boolean;
  system: boolean;
  virtual: boolean;
  readOnly: boolean;
  mountpoints: string[];
  serial?: string;
  /** logical sector size in bytes (512, 4096): raw reads and writes of the card are whole multiples of it */
  blockSize?: number;
  /** over 128 GB */
  large: boolean;
  /** a whole disk rather than a partition */
  wholeDisk: boolean;
  partitions: Partition[];
  /** holds the running system's `/` */
  holdsRoot: boolean;
  /** holds the running app or CLI */
  holdsApp: boolean;
  /** holds the source image the user selected (only when a source was given) */
  containsSource?: boolean;
}

export interface ListOptions {
  /** The selected source image: the drive holding it is marked containsSource. */
  sourcePath?: string;
  /** Paths of the running app (default: the Node/Electron binary and this module). */
  appPaths?: string[];
}

interface LsblkNode {
  name?: string;
  path?: string;
  kname?: string;
  'maj:min'?: string;
  serial?: string | null;
  type?: string;
  mountpoint?: string | null;
  mountpoints?: Array<string | null>;
  children?: LsblkNode[];
}

/** What the platform's own tools add to a drivelist record (lsblk on Linux, diskutil on macOS). */
export interface DriveFacts {
  serial?: string;
  wholeDisk: boolean;
  partitions: Partition[];
  /** this disk's device number and those of everything below it, as "major:minor" (Linux) */
  devNumbers?: Set<string>;
  /** macOS: diskutil's size, sector size, bus, media name; disk images and APFS containers are virtual */
  size?: number | null;
  blockSize?: number;
  bus?: string;
  description?: string;
  virtual?: boolean;
}

/** Where the running system, the app and the selected source live, to mark the drives that hold them. */
export interface DriveContext {
  rootDev: string | null;
  appDevs: Array<string | null>;
  appReal: string[];
  sourceDev: string | null;
  /** null when no source was given */
  sourceReal: string | null;
}

/** The Mac's card serials between polls of this process's drive list (see SerialCache). */
const darwinSerials = new SerialCache();

export async function listDrives(options: ListOptions = {}): Promise<Drive[]> {
  let raw: drivelist.Drive[];
  let facts: Map<string, DriveFacts>;
  try {
    raw = await drivelist.list();
    facts =
      process.platform === 'linux'
        ? await lsblkFacts()
        : process.platform === 'darwin'
          ? await darwinFacts(undefined, darwinSerials)
          : new Map<string, DriveFacts>();
  } catch (error) {
    throw toAtlasError(error, 'Cannot list drives');
  }
  const appPaths = options.appPaths ?? [process.execPath, __dirname];
  const context: DriveContext = {
    rootDev: await devNumber('/'),
    appDevs: await Promise.all(appPaths.map(devNumber)),
    appReal: await Promise.all(appPaths.map((p) => fsp.realpath(p).catch(() => p))),
    sourceDev: options.sourcePath ? await devNumber(options.sourcePath) : null,
    sourceReal: options.sourcePath
      ? await fsp.realpath(options.sourcePath).catch(() => options.sourcePath!)
      : null,
  };
  return raw.map((d) => toDrive(d, facts.get(d.device), context));
}

/** One drivelist record completed with the platform's facts. Pure: the darwin tests feed it recorded outputs. */
export function toDrive(d: drivelist.Drive, f: DriveFacts | undefined, context: DriveContext): Drive {
  const partitionMounts = (f?.partitions ?? []).flatMap((p) => p.mountpoints);
  const mountpoints = [...new Set([...d.mountpoints.map((m) => m.path).filter(Boolean), ...partitionMounts])];
  // by device number where the platform gives them (Linux), else by the mount points that contain the path
  const holds = (dev: string | null, path: string | null): boolean =>
    f?.devNumbers && f.devNumbers.size > 0
      ? dev !== null && f.devNumbers.has(dev)
      : path !== null && mountpoints.some((m) => isUnder(path, m));
  const holdsRoot = holds(context.rootDev, '/') || mountpoints.includes('/');
  const holdsApp = context.appDevs.some((dev, i) => holds(dev, context.appReal[i] ?? null));
  const virtual = Boolean(d.isVirtual) || f?.virtual === true;
  const size = f?.size !== undefined && f.size !== null ? f.size : d.size;
  const drive: Drive = {
    device: d.device,
    raw: d.raw,
    description: f?.description || d.description || d.device,
    size,
    bus: (f?.bus || d.busType || 'UNKNOWN').toUpperCase(),
    removable: d.isRemovable && !virtual,
    system: d.isSystem || holdsRoot,
    virtual,
    readOnly: d.isReadOnly,
    mountpoints,
    ...(f?.serial ? { serial: f.serial } : {}),
    blockSize: f?.blockSize ?? (d.logicalBlockSize || d.blockSize || 512),
    large: (size ?? 0) > LARGE_DRIVE_BYTES,
    wholeDisk: f?.wholeDisk ?? true,
    partitions: f?.partitions ?? [],
    holdsRoot,
    holdsApp,
  };
  if (context.sourceReal !== null) drive.containsSource = holds(context.sourceDev, context.sourceReal);
  return drive;
}

function isUnder(path: string, mountpoint: string): boolean {
  if (mountpoint === '/') return true;
  return path === mountpoint || path.startsWith(`${mountpoint}/`);
}

/** "major:minor" of the device holding a path, as lsblk prints it; null when unknown. */
async function devNumber(path: string): Promise<string | null> {
  if (process.platform !== 'linux') return null;
  try {
    const dev = (await fsp.stat(path)).dev;
    // glibc's dev_t encoding (gnu_dev_major/minor)
    const major = ((dev >>> 8) & 0xfff) | (Math.floor(dev / 2 ** 32) & ~0xfff);
    const minor = (dev & 0xff) | ((dev >>> 12) & ~0xff);
    return `${major}:${minor}`;
  } catch {
    return null;
  }
}

/** Serial, partitions and device numbers from lsblk, which drivelist reads but does not pass on. */
async function lsblkFacts(): Promise<Map<string, DriveFacts>> {
  const map = new Map<string, DriveFacts>();
  let nodes: LsblkNode[];
  try {
    const { stdout } = await execFileAsync(
      'lsblk',
      ['--bytes', '--all', '--json', '--paths', '--output-all'],
      {
        maxBuffer: 16 * 1024 * 1024,
      },
    );
    nodes = (JSON.parse(stdout) as { blockdevices?: LsblkNode[] }).blockdevices ?? [];
  } catch {
    return map;
  }
  for (const node of nodes) {
    const name = node.name ?? node.path;
    if (!name) continue;
    const devNumbers = new Set<string>();
    const partitions: Partition[] = [];
    const walk = (n: LsblkNode, depth: number): void => {
      if (n['maj:min']) devNumbers.add(n['maj:min']);
      if (depth > 0 && (n.name ?? n.path))
        partitions.push({ device: (n.name ?? n.path)!, mountpoints: mountpointsOf(n) });
      for (const child of n.children ?? []) walk(child, depth + 1);
    };
    walk(node, 0);
    const own = mountpointsOf(node);
    if (own.length > 0) partitions.unshift({ device: name, mountpoints: own });
    const serial = node.serial?.trim() || (await sysfsSerial(node.kname ?? name));
    map.set(name, {
      ...(serial ? { serial } : {}),
      wholeDisk: node.type === undefined || node.type === 'disk',
      partitions,
      devNumbers,
    });
  }
  return map;
}

function mountpointsOf(node: LsblkNode): string[] {
  const list = node.mountpoints ?? [node.mountpoint ?? null];
  return list.filter((m): m is string => typeof m === 'string' && m.length > 0);
}

/** Without udev lsblk has no serial; MMC readers expose it in sysfs. */
async function sysfsSerial(kname: string): Promise<string | undefined> {
  const base = kname.replace(/^\/dev\//, '');
  for (const file of [`/sys/class/block/${base}/device/serial`, `/sys/class/block/${base}/device/wwid`]) {
    try {
      const text = (await fsp.readFile(file, 'utf8')).trim();
      if (text) return text;
    } catch {
      // not there for this kind of device
    }
  }
  return undefined;
}
