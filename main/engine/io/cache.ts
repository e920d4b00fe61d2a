/**
 * Reading back from the medium and making writes durable, on each platform. Node has an API for neither of the
 * macOS calls, so they come from the engine's small Node-API addon in C (addon.ts); its Linux branch
 * (posix_fadvise, fsync) runs in the Linux tests through the same binding the Mac uses.
 *
 * Which call each platform gets is decided by the pure functions below, tested with the platform injected.
 */
import { loadAddon } from './addon';
import type { DeviceHandle } from './fd-handle';

/** How a read-back is kept from answering out of the cache. */
export type ReadBackPlan =
  /** opened with O_DIRECT (Linux): nothing more to do */
  | 'o_direct'
  /** macOS: fcntl(F_NOCACHE) on the descriptor (no O_DIRECT there); set on the writer too (see below) */
  | 'f_nocache'
  /** Linux without O_DIRECT (tmpfs, some FUSE, a card read buffered): drop the clean cached pages first */
  | 'drop_pages';

export function readBackPlan(platform: NodeJS.Platform, opened: { direct: boolean }): ReadBackPlan {
  if (opened.direct) return 'o_direct';
  return platform === 'darwin' ? 'f_nocache' : 'drop_pages';
}

/**
 * Whether a read-back under `plan` is known to come from the medium. Dropping pages is not: a filesystem with
 * no medium behind its cache (tmpfs) keeps them. F_NOCACHE is, when the writer set it too: XNU still serves pages
 * resident from the write, which is why the vault's copy sets it on the file it writes (uncached()).
 */
export function readsMedium(plan: ReadBackPlan | 'cached'): boolean {
  return plan === 'o_direct' || plan === 'f_nocache';
}

/**
 * How written data are made durable: `fsync` on Linux (for a file and for a block device it asks the device to
 * flush its write cache too); on macOS fsync stops at the drive's cache, F_FULLFSYNC goes through it. On a raw
 * card node (/dev/rdiskN) writes are unbuffered, fsync does nothing and F_FULLFSYNC may be refused: what is left
 * in the reader's cache is flushed by the eject every writing job ends with (drives/eject.ts).
 */
export function syncPlan(platform: NodeJS.Platform): 'f_fullfsync' | 'fsync' {
  return platform === 'darwin' ? 'f_fullfsync' : 'fsync';
}

/**
 * Prepares an open descriptor for a read-back from the medium (and, on macOS, a writer whose pages must not stay
 * cached): F_NOCACHE, or the clean cached pages dropped. Returns the plan applied, or 'cached' when the platform
 * refused it (or the addon is missing): the descriptor is still read, as it is.
 */
export async function uncached(
  handle: Pick<DeviceHandle, 'fd'>,
  opened: { direct: boolean },
  platform: NodeJS.Platform = process.platform,
): Promise<ReadBackPlan | 'cached'> {
  const plan = readBackPlan(platform, opened);
  if (plan === 'o_direct') return plan;
  const native = loadAddon();
  if (!native) return 'cached';
  try {
    await native.nocache(handle.fd);
    return plan;
  } catch {
    return 'cached';
  }
}

/**
 * A file about to be written that will be read back from the medium: on macOS F_NOCACHE on the writer too, or
 * XNU keeps serving the written pages to the reader (readsMedium). Elsewhere nothing to do.
 */
export async function uncachedWriter(
  handle: Pick<DeviceHandle, 'fd'>,
  platform: NodeJS.Platform = process.platform,
): Promise<void> {
  if (readBackPlan(platform, { direct: false }) === 'f_nocache') {
    await loadAddon()
      ?.nocache(handle.fd)
      .catch(() => undefined);
  }
}

/** Makes what was written through `handle` durable (syncPlan); F_FULLFSYNC refused falls back to fsync. */
export async function fullSync(
  handle: Pick<DeviceHandle, 'fd' | 'sync'>,
  platform: NodeJS.Platform = process.platform,
): Promise<void> {
  const native = loadAddon();
  if (syncPlan(platform) === 'f_fullfsync' && native) {
    try {
      await native.fullsync(handle.fd);
      return;
    } catch {
      // ENOTTY / ENOTSUP: a raw device node, or a filesystem without it (some network volumes)
    }
  }
  await handle.sync();
}
