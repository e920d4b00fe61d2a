/**
 * A card the way macOS presents it to a job: a raw node (/dev/rdiskN) that fails any read or write whose offset
 * or length is not whole sectors with EINVAL, reached without O_DIRECT (macOS has none). The wrapper sits on a
 * loop device's descriptor, so a job that slips one unaligned call fails here on Linux as it would on a Mac.
 */
import { localCardAccess, type CardAccess } from '../../main/engine/drives/index';
import type { DirectDevice } from '../../main/engine/io/direct';
import type { DeviceHandle } from '../../main/engine/io/fd-handle';

export interface RawCardLog {
  reads: number;
  writes: number;
  /** every call refused: [read|write, position, length] */
  refused: Array<[string, number, number]>;
}

function einval(op: string, path: string, position: number, length: number): NodeJS.ErrnoException {
  const e: NodeJS.ErrnoException = new Error(
    `EINVAL: invalid argument, ${op} ${length} bytes at ${position} of ${path}`,
  );
  e.code = 'EINVAL';
  e.errno = -22;
  e.syscall = op;
  return e;
}

/** The device with every read and write held to whole `sector`s (default: the device's own sector size). */
export function rawCard(device: DirectDevice, log: RawCardLog, sector = device.sectorSize): DirectDevice {
  const inner = device.handle;
  const check = (op: 'read' | 'write', position: number, length: number): void => {
    if (position % sector !== 0 || length % sector !== 0) {
      log.refused.push([op, position, length]);
      throw einval(op, device.path, position, length);
    }
  };
  const handle: DeviceHandle = {
    fd: inner.fd,
    async read(buffer, offset, length, position) {
      check('read', position, length);
      log.reads += 1;
      return inner.read(buffer, offset, length, position);
    },
    async write(buffer, offset, length, position) {
      check('write', position, length);
      log.writes += 1;
      return inner.write(buffer, offset, length, position);
    },
    sync: () => inner.sync(),
    datasync: () => inner.datasync(),
    close: () => inner.close(),
  };
  return { ...device, handle };
}

/** Local access whose cards are raw cards without O_DIRECT, as a job on a Mac gets them; `log` counts the calls. */
export function rawCardAccess(log: RawCardLog, options: { unmount?: boolean } = {}): CardAccess {
  const local = localCardAccess(options);
  return {
    ...local,
    async open(path, how) {
      return rawCard(await local.open(path, { ...how, direct: false }), log);
    },
  };
}

export function newRawCardLog(): RawCardLog {
  return { reads: 0, writes: 0, refused: [] };
}
