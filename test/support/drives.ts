/**
 * Hand-made drives for the tests: the engine's record (what drivelist and lsblk yield) and the contract's Drive
 * (what the renderer and the handlers see), each a plain removable 32 GB card unless told otherwise.
 */
import type { Drive } from '../../main/contract';
import type { Drive as EngineDrive } from '../../main/engine/drives/list';

export const GB = 1e9;

/** The engine's record of a plain SD card in a USB reader. */
export function engineCard(over: Partial<EngineDrive> = {}): EngineDrive {
  return {
    device: '/dev/sdb',
    raw: '/dev/sdb',
    description: 'Generic SD Reader',
    size: 32 * GB,
    bus: 'USB',
    removable: true,
    system: false,
    virtual: false,
    readOnly: false,
    mountpoints: [],
    serial: 'S1',
    large: false,
    wholeDisk: true,
    partitions: [],
    holdsRoot: false,
    holdsApp: false,
    ...over,
  };
}

/** The contract's Drive of a plain SD card in a USB reader. */
export function card(over: Partial<Drive> = {}): Drive {
  return {
    device: '/dev/sdx',
    description: 'Generic SD Reader',
    size: 32 * GB,
    bus: 'USB',
    serial: 'SER123',
    mountpoints: [],
    removable: true,
    system: false,
    virtual: false,
    readOnly: false,
    large: false,
    ...over,
  };
}

/** The machine's own disk as the contract shows it: fixed, holding /. */
export const SYSTEM_DISK: Drive = card({
  device: '/dev/vda',
  description: 'Virtio Block Device',
  size: 100 * GB,
  bus: 'VIRTIO',
  serial: null,
  mountpoints: ['/'],
  removable: false,
  system: true,
});

/** The confirmation the renderer sends for a drive. */
export const snapshotOf = (d: Drive) => ({ device: d.device, size: d.size, serial: d.serial });
