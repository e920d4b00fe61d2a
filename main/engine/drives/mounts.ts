/**
 * Which filesystems of a disk (or of a disk image attached to a loop device) are mounted, and unmounting them.
 * Clone refuses a mounted source (a live filesystem changes under the reader), restore and flash a mounted target.
 */
import { execFile } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import { basename } from 'node:path';
import { promisify } from 'node:util';
import { AtlasError } from '../errors';
import { darwinMounts } from '../platform/darwin';

const execFileAsync = promisify(execFile);

export interface Mount {
  /** the mounted device: /dev/sdc1, /dev/loop3p2, /dev/disk4s1 */
  device: string;
  mountpoint: string;
}

/** Mounts of `path` and of its partitions; for an image file, of the loop devices that read it. */
export async function mountsOf(path: string): Promise<Mount[]> {
  // macOS: from diskutil, which also counts the volumes of an APFS container on the disk (platform/darwin.ts)
  if (process.platform === 'darwin') return darwinMounts(path);
  if (process.platform !== 'linux') return [];
  const devices = await linuxDevicesOf(path);
  if (devices.size === 0) return [];
  const text = await fsp.readFile('/proc/self/mounts', 'utf8');
  const mounts: Mount[] = [];
  for (const line of text.split('\n')) {
    const [source, target] = line.split(' ');
    if (!source?.startsWith('/dev/') || !target) continue;
    const real = await fsp.realpath(source).catch(() => source);
    if (devices.has(basename(real))) mounts.push({ device: real, mountpoint: unescapeMount(target) });
  }
  return mounts;
}

/** Refuses a mounted disk (SOURCE_MOUNTED / TARGET_MOUNTED), or unmounts it when asked to. */
export async function assertNotMounted(
  path: string,
  options: { unmount: boolean; role?: 'source' | 'target' },
): Promise<void> {
  const mounts = await mountsOf(path);
  if (mounts.length === 0) return;
  const role = options.role ?? 'source';
  if (options.unmount) {
    await unmountAll(path, { role, mounts });
    return;
  }
  const list = mounts.map((m) => `${m.device} on ${m.mountpoint}`).join(', ');
  throw new AtlasError(mountedCode(role), `${path} has mounted partitions (${list}). Unmount them first.`, {
    mounts,
  });
}

/** Unmounts every mounted partition of a disk (macOS: the whole disk at once). */
export async function unmountAll(
  path: string,
  options: { role?: 'source' | 'target'; mounts?: Mount[] } = {},
): Promise<void> {
  const code = mountedCode(options.role ?? 'target');
  if (process.platform === 'darwin') {
    await run('diskutil', ['unmountDisk', path], path, code);
    return;
  }
  // deepest mountpoints first, so nested mounts do not block their parents
  const list = [...(options.mounts ?? (await mountsOf(path)))].sort(
    (a, b) => b.mountpoint.length - a.mountpoint.length,
  );
  for (const mount of list) await run('umount', [mount.mountpoint], path, code);
  const left = await mountsOf(path);
  if (left.length > 0) {
    throw new AtlasError(code, `${path} is still mounted on ${left.map((m) => m.mountpoint).join(', ')}.`);
  }
}

type MountedCode = 'SOURCE_MOUNTED' | 'TARGET_MOUNTED';

function mountedCode(role: 'source' | 'target'): MountedCode {
  return role === 'source' ? 'SOURCE_MOUNTED' : 'TARGET_MOUNTED';
}

async function run(cmd: string, args: string[], path: string, code: MountedCode): Promise<void> {
  try {
    await execFileAsync(cmd, args);
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim().split('\n')[0];
    throw new AtlasError(
      code,
      `Could not unmount ${path}: ${stderr || (error as Error).message}. Close the files open on it and try again.`,
      { device: path },
      { cause: error },
    );
  }
}

/** Kernel names (sdc, sdc1, loop3, loop3p1) of a device and its partitions, or of the loop devices backing a file. */
async function linuxDevicesOf(path: string): Promise<Set<string>> {
  const names = new Set<string>();
  const real = await fsp.realpath(path).catch(() => path);
  const st = await fsp.stat(real).catch(() => null);
  if (!st) return names;
  const disks: string[] = [];
  if (st.isBlockDevice()) disks.push(basename(real));
  else if (st.isFile()) disks.push(...(await loopDevicesBacking(real)));
  for (const disk of disks) {
    names.add(disk);
    const children = await fsp.readdir(`/sys/class/block/${disk}`).catch(() => [] as string[]);
    for (const child of children) if (child.startsWith(disk)) names.add(child);
  }
  return names;
}

async function loopDevicesBacking(file: string): Promise<string[]> {
  const entries = await fsp.readdir('/sys/block').catch(() => [] as string[]);
  const found: string[] = [];
  for (const name of entries.filter((n) => n.startsWith('loop'))) {
    const backing = await fsp.readFile(`/sys/block/${name}/loop/backing_file`, 'utf8').catch(() => '');
    if (backing.trim() === file) found.push(name);
  }
  return found;
}

/** /proc/mounts writes spaces and tabs in paths as octal escapes. */
function unescapeMount(text: string): string {
  return text.replace(/\\([0-7]{3})/g, (_m, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}
