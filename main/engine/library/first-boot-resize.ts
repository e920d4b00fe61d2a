/**
 * Where resize2fs cannot run (macOS), Restore leaves the growing of root to Armbian: its
 * armbian-resize-filesystem.service grows the last partition and its ext4 at boot when it is enabled (being
 * enabled is the trigger; /root/.no_rootfs_resize disables it). See docs/armbian-rpi4b.md §3.
 */
import { withExt4 } from '../fs/ext4-inject';

const UNIT = 'armbian-resize-filesystem.service';
const UNIT_PATHS = [`/usr/lib/systemd/system/${UNIT}`, `/lib/systemd/system/${UNIT}`];
const WANTS_LINK = `/etc/systemd/system/basic.target.wants/${UNIT}`;
const OPT_OUT = '/root/.no_rootfs_resize';

/**
 * Enables armbian-resize-filesystem in the ext4 at `offset` of the card open on `fd` (restore's own descriptor:
 * the card may be one only the broker could open); false when the image has no such unit.
 */
export async function ensureFirstBootResize(
  fd: number,
  offset: number,
  name = 'the card',
  /** `fd` is O_DIRECT: I/O in whole aligned units of this many bytes */
  directUnit?: number,
): Promise<boolean> {
  const session = { offset, write: true, fd, ...(directUnit !== undefined ? { directUnit } : {}) };
  return withExt4(name, session, async (ext4) => {
    let unit: string | undefined;
    for (const path of UNIT_PATHS) if (await ext4.exists(path)) unit = unit ?? path;
    if (!unit) return false;
    if (!(await ext4.exists(WANTS_LINK))) {
      await ext4.mkdirp('/etc/systemd/system/basic.target.wants', { mode: 0o755, uid: 0, gid: 0 });
      await ext4.symlink(unit, WANTS_LINK, { uid: 0, gid: 0 });
    }
    if (await ext4.exists(OPT_OUT)) await ext4.unlink(OPT_OUT);
    return true;
  });
}
