/**
 * What the drive listing needs on macOS and drivelist does not give: read from `diskutil list -plist`,
 * `diskutil info -plist diskN`, and for the serial `system_profiler -json SPCardReaderDataType` (a card in the
 * built-in SD reader) or `ioreg -a -r -c IOUSBHostDevice -l` (a USB reader or stick). Parsing is pure and tested
 * against recorded outputs (test/fixtures/darwin/); darwinFacts runs the commands.
 *
 * drivelist's darwin records (DiskArbitration) list every whole disk, including what is not a card at all:
 *  - APFS synthesized disks (disk3: the container on disk0s2), reported with their store's bus, so a container on a
 *    USB disk looks like a second USB disk of the container's size;
 *  - attached disk images (the app's own .dmg), protocol "Disk Image", removable and ejectable, and not marked
 *    virtual (drivelist only marks the old "Virtual Interface");
 *  - no serial, and the volumes of an APFS container under the synthesized disk, not under the disk that holds it.
 * Here both kinds are virtual (never a target), the container's volumes count as mounted partitions of its physical
 * disk, and the serial comes from the card reader or the USB device.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { parsePlist, type PlistDict, type PlistValue } from './plist';

const execFileAsync = promisify(execFile);

/** One disk or partition as `diskutil info -plist` describes it. */
export interface DiskutilInfo {
  /** disk4, disk4s1 */
  identifier: string;
  /** /dev/disk4: buffered */
  device: string;
  /** /dev/rdisk4: the raw node, whole sectors only */
  raw: string;
  wholeDisk: boolean;
  /** the whole disk holding it (itself for a whole disk) */
  parentWholeDisk: string;
  /** bytes; null when unknown (an empty reader) */
  size: number | null;
  /** the logical sector size every read and write of the raw node is a multiple of */
  blockSize: number;
  internal: boolean;
  /** removable media (a card) or an ejectable device (a USB stick) */
  removable: boolean;
  /** normalised like lsblk's transport: SD, USB, SATA, NVME, DISK IMAGE, … */
  bus: string;
  /** "APPLE SD Card Reader", "Kingston DataTraveler 3.0" */
  mediaName: string;
  diskImage: boolean;
  /** an APFS container's synthesized disk: its physical stores (disk0s2) */
  apfsPhysicalStores: string[];
  /** a disk image or a synthesized disk: never a card */
  virtual: boolean;
  writable: boolean;
  /** partition scheme (FDisk_partition_scheme, GUID_partition_scheme) or partition type */
  content: string;
  mountPoint: string | null;
}

const BUS_NAMES: Record<string, string> = {
  'Secure Digital': 'SD',
  'PCI-Express': 'PCIE',
  'Disk Image': 'DISK IMAGE',
  'Virtual Interface': 'VIRTUAL',
};

export function parseDiskutilInfo(xml: string): DiskutilInfo {
  const d = asDict(parsePlist(xml));
  const identifier = str(d.DeviceIdentifier);
  const protocol = str(d.BusProtocol);
  const stores = list(d.APFSPhysicalStores).map((s) => str(asDict(s).APFSPhysicalStore));
  const diskImage = protocol === 'Disk Image' || protocol === 'Virtual Interface';
  const size = num(d.Size) ?? num(d.TotalSize) ?? num(d.IOKitSize);
  return {
    identifier,
    device: str(d.DeviceNode) || `/dev/${identifier}`,
    raw: `/dev/r${identifier}`,
    wholeDisk: d.WholeDisk === true,
    parentWholeDisk: str(d.ParentWholeDisk) || identifier,
    size: size && size > 0 ? size : null,
    blockSize: num(d.DeviceBlockSize) ?? 512,
    internal: d.Internal === true,
    removable: d.RemovableMedia === true || d.Removable === true || d.Ejectable === true,
    bus: BUS_NAMES[protocol] ?? (protocol ? protocol.toUpperCase() : 'UNKNOWN'),
    mediaName: str(d.MediaName) || str(d.IORegistryEntryName),
    diskImage,
    apfsPhysicalStores: stores.filter(Boolean),
    virtual: diskImage || stores.length > 0 || str(d.VirtualOrPhysical) === 'Virtual',
    writable: d.WritableMedia !== false && d.Writable !== false,
    content: str(d.Content),
    mountPoint: str(d.MountPoint) || null,
  };
}

/** A whole disk in `diskutil list -plist`: its partitions (and an APFS container's volumes) with mount points. */
export interface DiskutilListDisk {
  identifier: string;
  size: number | null;
  content: string;
  partitions: Array<{ identifier: string; mountPoints: string[]; volumeName: string | null }>;
  /** for a synthesized APFS container: the partitions that hold it (disk0s2) */
  apfsPhysicalStores: string[];
}

export function parseDiskutilList(xml: string): DiskutilListDisk[] {
  const root = asDict(parsePlist(xml));
  return list(root.AllDisksAndPartitions).map((entry) => {
    const d = asDict(entry);
    const volumes = [...list(d.Partitions), ...list(d.APFSVolumes)].map((p) => {
      const part = asDict(p);
      // the system volume is not mounted itself: its sealed snapshot (disk3s1s1) is, at /
      const snapshots = list(part.MountedSnapshots).map((m) => str(asDict(m).SnapshotMountPoint));
      return {
        identifier: str(part.DeviceIdentifier),
        mountPoints: [str(part.MountPoint), ...snapshots].filter(Boolean),
        volumeName: str(part.VolumeName) || null,
      };
    });
    return {
      identifier: str(d.DeviceIdentifier),
      size: num(d.Size) ?? null,
      content: str(d.Content),
      partitions: volumes,
      apfsPhysicalStores: list(d.APFSPhysicalStores)
        .map((s) => str(asDict(s).DeviceIdentifier))
        .filter(Boolean),
    };
  });
}

/**
 * Serials of the cards in the built-in SD reader (`system_profiler -json SPCardReaderDataType`), by whole disk:
 * the card's own serial (its CID), as Linux reads it from sysfs for an MMC reader.
 */
export function cardReaderSerials(json: string): Map<string, string> {
  const serials = new Map<string, string>();
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(walk);
    else if (value && typeof value === 'object') {
      const o = value as Record<string, unknown>;
      const disk = typeof o.bsd_name === 'string' ? o.bsd_name : null;
      const serial =
        typeof o.spcardreader_card_serialnumber === 'string' ? o.spcardreader_card_serialnumber.trim() : '';
      if (disk && /^disk\d+$/.test(disk) && serial) serials.set(disk, serial);
      Object.values(o).forEach(walk);
    }
  };
  walk(JSON.parse(json) as unknown);
  return serials;
}

/**
 * Serials of USB storage (`ioreg -a -r -c IOUSBHostDevice -l`), by whole disk: the USB device's serial string,
 * given to the whole-disk IOMedia (`BSD Name` diskN, `Whole`) found below it in the registry.
 */
export function usbSerials(xml: string): Map<string, string> {
  const serials = new Map<string, string>();
  const walk = (value: PlistValue, serial: string | null): void => {
    if (Array.isArray(value)) {
      for (const v of value) walk(v, serial);
      return;
    }
    if (!isDict(value)) return;
    const own = str(value['USB Serial Number']) || str(value.kUSBSerialNumberString);
    const current = own ? own.trim() : serial;
    const bsd = str(value['BSD Name']);
    if (current && value.Whole === true && /^disk\d+$/.test(bsd)) serials.set(bsd, current);
    const children = value.IORegistryEntryChildren;
    if (children !== undefined) walk(children, current);
  };
  walk(parsePlist(xml), null);
  return serials;
}

/** disk4s1 → disk4, disk3s1s1 → disk3. */
function wholeOf(identifier: string): string {
  return /^(disk\d+)/.exec(identifier)?.[1] ?? identifier;
}

/**
 * The partitions of a whole disk with their mount points, the volumes of an APFS container counted under the disk
 * whose partition holds it (writing that disk destroys them): what "this disk is mounted" means on macOS.
 */
export function partitionsOf(
  layout: DiskutilListDisk[],
  disk: string,
): Array<{ device: string; mountpoints: string[] }> {
  const own = layout.find((d) => d.identifier === disk)?.partitions ?? [];
  const contained = layout
    .filter((d) => d.apfsPhysicalStores.some((store) => wholeOf(store) === disk))
    .flatMap((d) => d.partitions);
  return [...own, ...contained].map((p) => ({ device: `/dev/${p.identifier}`, mountpoints: p.mountPoints }));
}

/** The mounted filesystems of a disk (`/dev/disk4`, `/dev/rdisk4` or `disk4`), from `diskutil list -plist`. */
export async function darwinMounts(
  path: string,
  run: CommandRunner = runCommand,
): Promise<Array<{ device: string; mountpoint: string }>> {
  const disk = wholeOf(path.replace(/^\/dev\//, '').replace(/^r(disk)/, '$1'));
  const layout = parseDiskutilList(await run('diskutil', ['list', '-plist']));
  return partitionsOf(layout, disk).flatMap((p) =>
    p.mountpoints.map((mountpoint) => ({ device: p.device, mountpoint })),
  );
}

/** What darwinFacts adds to a drivelist record, by device (/dev/disk4). */
export interface DarwinDriveFacts {
  serial?: string;
  size: number | null;
  blockSize: number;
  bus: string;
  description: string;
  virtual: boolean;
  wholeDisk: boolean;
  /** partitions with their mount points, an APFS container's volumes counted under the disk that holds it */
  partitions: Array<{ device: string; mountpoints: string[] }>;
}

export type CommandRunner = (cmd: string, args: string[]) => Promise<string>;

const runCommand: CommandRunner = async (cmd, args) =>
  (await execFileAsync(cmd, args, { maxBuffer: 64 * 1024 * 1024 })).stdout;

/**
 * The serials of the last listing, kept while the disks stay the same (same identifiers, sizes and media names)
 * and for at most `ttlMs`: the drive list polls every second, and system_profiler takes most of a second of CPU
 * each time. A card swapped for a look-alike within that time keeps the old serial in the app's list; the root
 * broker, a fresh process, reads it anew before it opens the card and refuses one that is not the card confirmed.
 */
export class SerialCache {
  private entry: { key: string; at: number; serials: Map<string, string> } | null = null;

  constructor(
    private readonly ttlMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  get(key: string): Map<string, string> | undefined {
    const e = this.entry;
    return e && e.key === key && this.now() - e.at < this.ttlMs ? e.serials : undefined;
  }

  set(key: string, serials: Map<string, string>): void {
    this.entry = { key, at: this.now(), serials };
  }
}

/**
 * Runs diskutil (and, when a card or USB disk is present, system_profiler or ioreg for the serial) and combines
 * their answers per whole disk. A serial that cannot be read is left out (the card is then matched by its size);
 * diskutil failing is an error of the caller's listing.
 */
export async function darwinFacts(
  run: CommandRunner = runCommand,
  cache?: SerialCache,
): Promise<Map<string, DarwinDriveFacts>> {
  const layout = parseDiskutilList(await run('diskutil', ['list', '-plist']));
  // an APFS container (synthesized) is known from the list: described by its first physical store's disk
  const physical = layout.filter((disk) => disk.apfsPhysicalStores.length === 0);
  const described = new Map(
    await Promise.all(
      physical.map(
        async (disk) =>
          [
            disk.identifier,
            parseDiskutilInfo(await run('diskutil', ['info', '-plist', disk.identifier])),
          ] as const,
      ),
    ),
  );
  const infos = [...described.values()];
  const key = JSON.stringify(
    layout.map((d) => [d.identifier, d.size, described.get(d.identifier)?.mediaName]),
  );
  let serials = cache?.get(key);
  if (!serials) {
    serials = new Map<string, string>();
    if (infos.some((i) => i.bus === 'SD')) {
      const json = await run('system_profiler', ['-json', 'SPCardReaderDataType']).catch(() => null);
      if (json) for (const [disk, serial] of safe(() => cardReaderSerials(json))) serials.set(disk, serial);
    }
    if (infos.some((i) => i.bus === 'USB')) {
      const xml = await run('ioreg', ['-a', '-r', '-c', 'IOUSBHostDevice', '-l']).catch(() => null);
      if (xml) for (const [disk, serial] of safe(() => usbSerials(xml))) serials.set(disk, serial);
    }
    cache?.set(key, serials);
  }

  const facts = new Map<string, DarwinDriveFacts>();
  for (const disk of layout) {
    const store = disk.apfsPhysicalStores[0];
    const info =
      described.get(disk.identifier) ??
      containerInfo(disk, store ? described.get(wholeOf(store)) : undefined);
    const partitions = partitionsOf(layout, disk.identifier);
    const serial = serials.get(disk.identifier);
    facts.set(info.device, {
      ...(serial ? { serial } : {}),
      size: info.size ?? disk.size,
      blockSize: info.blockSize,
      bus: info.bus,
      description: info.mediaName,
      virtual: info.virtual,
      wholeDisk: info.wholeDisk,
      partitions,
    });
  }
  return facts;
}

/** A synthesized APFS container: its own identifier and size, its store's bus and sector size; always virtual. */
function containerInfo(disk: DiskutilListDisk, store: DiskutilInfo | undefined): DiskutilInfo {
  return {
    identifier: disk.identifier,
    device: `/dev/${disk.identifier}`,
    raw: `/dev/r${disk.identifier}`,
    wholeDisk: true,
    parentWholeDisk: disk.identifier,
    size: disk.size,
    blockSize: store?.blockSize ?? 4096,
    internal: store?.internal ?? false,
    removable: false,
    bus: store?.bus ?? 'UNKNOWN',
    mediaName: `APFS container on ${store?.mediaName || disk.apfsPhysicalStores.join(', ')}`,
    diskImage: false,
    apfsPhysicalStores: disk.apfsPhysicalStores,
    virtual: true,
    writable: true,
    content: disk.content,
    mountPoint: null,
  };
}

function safe<T>(read: () => Map<string, T>): Map<string, T> {
  try {
    return read();
  } catch {
    return new Map();
  }
}

function isDict(value: PlistValue | undefined): value is PlistDict {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    !(value instanceof Date) &&
    !Buffer.isBuffer(value)
  );
}

function asDict(value: PlistValue | undefined): PlistDict {
  return isDict(value) ? value : {};
}

function list(value: PlistValue | undefined): PlistValue[] {
  return Array.isArray(value) ? value : [];
}

function str(value: PlistValue | undefined): string {
  return typeof value === 'string' ? value : '';
}

function num(value: PlistValue | undefined): number | undefined {
  return typeof value === 'number' ? value : undefined;
}
