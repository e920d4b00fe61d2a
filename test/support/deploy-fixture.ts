/**
 * For the deploy tests: a clone of a kiosk that has booted (a machine ID, SSH host keys, its hostname, Armbian's
 * IMAGE_UUID, armbian-firstrun disabled after its run), and the oracles that tell a deployed card from an exact
 * copy of the same clone.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  closeSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  readSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join, posix } from 'node:path';
import { cloneJob } from '../../main/engine/jobs/clone';
import { localCardAccess } from '../../main/engine/drives/index';
import { makeArmbianImage } from './armbian';
import { run, tryRun } from './sh';

/** The IMAGE_UUID armbian-firstrun gave the booted kiosk (in /etc/armbian-image-release). */
export const SOURCE_IMAGE_UUID = '5d2c7f9e-3b1a-4c6d-8e2f-0a1b2c3d4e5f';
/** The booted kiosk's SSH host key files. */
export const SOURCE_HOST_KEYS = ['rsa', 'ed25519'].flatMap((t) => [
  `/etc/ssh/ssh_host_${t}_key`,
  `/etc/ssh/ssh_host_${t}_key.pub`,
]);

/**
 * Builds the booted kiosk image in `dir` and clones it there; returns the clone folder and the image. The kiosk
 * is what a first boot leaves (docs/armbian-rpi4b.md §3): armbian-firstrun has made its machine ID and host keys,
 * appended IMAGE_UUID and disabled itself; its maker set OPENSSHD_REGENERATE_HOST_KEYS=false (as kiosk builds
 * that keep their keys do), so nothing in the clone would make new keys.
 */
export async function bootedClone(dir: string, tag: string): Promise<{ folder: string; image: string }> {
  const extra = join(dir, 'extra');
  mkdirSync(join(extra, 'etc/ssh'), { recursive: true });
  mkdirSync(join(extra, 'etc/default'), { recursive: true });
  writeFileSync(join(extra, 'etc/machine-id'), '0123456789abcdef0123456789abcdef\n');
  for (const key of SOURCE_HOST_KEYS) {
    const pub = key.endsWith('.pub');
    writeFileSync(join(extra, key), `${pub ? 'PUBLIC' : 'PRIVATE'} ${key}\n`, { mode: pub ? 0o644 : 0o600 });
  }
  writeFileSync(join(extra, 'etc/ssh/sshd_config'), 'PermitRootLogin no\n');
  writeFileSync(join(extra, 'etc/hostname'), 'kiosk-src\n');
  writeFileSync(join(extra, 'etc/hosts'), '127.0.0.1\tlocalhost\n127.0.1.1\tkiosk-src\n');
  writeFileSync(join(extra, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/bash\n');
  writeFileSync(join(extra, 'etc/default/armbian-firstrun'), 'OPENSSHD_REGENERATE_HOST_KEYS=false\n');
  const image = makeArmbianImage(join(dir, 'kiosk.img'), {
    imgMib: 160,
    extraMib: 24,
    extraRoot: extra,
    firstBootImageUuid: SOURCE_IMAGE_UUID,
  });
  const { folder } = await cloneJob({ source: image, outDir: dir, tag, access: localCardAccess() });
  return { folder, image };
}

/** The byte offset of partition `n` of a disk image (sfdisk's view). */
export function partitionStart(image: string, n: number): number {
  const table = JSON.parse(run('sfdisk', ['--json', image])) as {
    partitiontable: { sectorsize?: number; partitions: Array<{ start: number }> };
  };
  return table.partitiontable.partitions[n - 1]!.start * (table.partitiontable.sectorsize ?? 512);
}

export function debugfsCat(image: string, offset: number, path: string): string {
  return run('debugfs', ['-R', `cat ${path}`, `${image}?offset=${offset}`]).trim();
}

/** An inode as debugfs `stat` shows it. */
export interface DebugfsStat {
  inode: number;
  /** regular, directory, symlink, ... */
  type: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** a fast symlink's target */
  link: string | null;
}

/**
 * debugfs `stat` of a path of the ext4 filesystem at byte `offset` of `image`; null when there is no such file
 * (where `cat` would print nothing, as it does for an empty file).
 */
export function debugfsStat(image: string, offset: number, path: string): DebugfsStat | null {
  const r = tryRun('debugfs', ['-R', `stat ${path}`, `${image}?offset=${offset}`]);
  assert.equal(r.status, 0, r.stderr);
  if (/File not found by ext2_lookup/.test(r.stderr)) return null;
  const head = /Inode: (\d+)\s+Type: (\S+)\s+Mode:\s+([0-7]+)/.exec(r.stdout);
  const owner = /User:\s+(\d+)\s+Group:\s+(\d+)\s+(?:Project:\s+\d+\s+)?Size: (\d+)/.exec(r.stdout);
  assert.ok(head && owner, `debugfs stat ${path}: ${r.stdout}${r.stderr}`);
  return {
    inode: Number(head[1]),
    type: head[2]!,
    mode: parseInt(head[3]!, 8),
    uid: Number(owner[1]),
    gid: Number(owner[2]),
    size: Number(owner[3]),
    link: /Fast link dest: "(.*)"/.exec(r.stdout)?.[1] ?? null,
  };
}

/** e2fsck -fn of the root and fsck.vfat -n of the boot partition, through a loop device over the image. */
export function fsckClean(
  image: string,
  attach: (path: string) => { partition(k: number): string; detach(): void },
): void {
  const view = attach(image);
  try {
    run('fsck.vfat', ['-n', view.partition(1)]);
    run('e2fsck', ['-fn', view.partition(2)]);
  } finally {
    view.detach();
  }
}

/** The 4 KiB blocks where two images differ, as byte offsets. */
export function differingBlocks(a: string, b: string): number[] {
  const BLOCK = 4096;
  const CHUNK = 4 * 1024 * 1024;
  const fa = openSync(a, 'r');
  const fb = openSync(b, 'r');
  const ba = Buffer.alloc(CHUNK);
  const bb = Buffer.alloc(CHUNK);
  const out: number[] = [];
  try {
    for (let at = 0; ; at += CHUNK) {
      const na = readSync(fa, ba, 0, CHUNK, at);
      const nb = readSync(fb, bb, 0, CHUNK, at);
      assert.equal(na, nb, `${a} and ${b} differ in size`);
      if (na === 0) break;
      for (let k = 0; k < na; k += BLOCK) {
        if (!ba.subarray(k, k + BLOCK).equals(bb.subarray(k, k + BLOCK))) out.push(at + k);
      }
    }
  } finally {
    closeSync(fa);
    closeSync(fb);
  }
  return out;
}

/** One path of a mounted filesystem: everything lstat and the contents say of it. */
interface Entry {
  ino: number;
  kind: 'file' | 'dir' | 'symlink' | 'other';
  mode: number;
  uid: number;
  gid: number;
  size: number;
  atime: string;
  /** mtime, ctime and birth time in ns */
  times: string;
  /** a file's sha256, a link's target, a directory's sorted names */
  content: string;
}

function manifest(top: string): Map<string, Entry> {
  const out = new Map<string, Entry>();
  const walk = (path: string): void => {
    const abs = join(top, path);
    const st = lstatSync(abs, { bigint: true });
    const kind = st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'other';
    const names = kind === 'dir' ? readdirSync(abs).sort() : [];
    out.set(path, {
      ino: Number(st.ino),
      kind,
      mode: Number(st.mode),
      uid: Number(st.uid),
      gid: Number(st.gid),
      size: Number(st.size),
      atime: String(st.atimeNs),
      times: [st.mtimeNs, st.ctimeNs, st.birthtimeNs].join(' '),
      content:
        kind === 'file'
          ? createHash('sha256').update(readFileSync(abs)).digest('hex')
          : kind === 'symlink'
            ? readlinkSync(abs)
            : kind === 'dir'
              ? names.join('/')
              : String(st.rdev),
    });
    for (const name of names) walk(posix.join(path, name));
  };
  walk('/');
  return out;
}

/** Both root filesystems mounted read-only (copies: mount refuses a second loop device over a card's file). */
function withMountedRoots<T>(
  images: string[],
  rootOffset: number,
  dir: string,
  use: (tops: string[]) => T,
): T {
  const mounts: string[] = [];
  try {
    for (const [i, image] of images.entries()) {
      const copy = join(dir, `cmp-${i}.img`);
      run('cp', ['--sparse=always', image, copy]);
      const at = join(dir, `cmp-mnt-${i}`);
      mkdirSync(at, { recursive: true });
      run('mount', ['-o', `ro,noload,loop,offset=${rootOffset}`, copy, at]);
      mounts.push(at);
    }
    return use(mounts);
  } finally {
    for (const m of mounts) tryRun('umount', [m]);
    for (const i of images.keys()) rmSync(join(dir, `cmp-${i}.img`), { force: true });
  }
}

/** Where an ext4 filesystem keeps its metadata, from dumpe2fs. */
interface Geometry {
  blockSize: number;
  blockCount: number;
  firstBlock: number;
  blocksPerGroup: number;
  inodesPerGroup: number;
  inodeSize: number;
  /** superblocks and group descriptors, primary and backups */
  summary: Set<number>;
  /** block → its group */
  blockBitmaps: Map<number, number>;
  inodeBitmaps: Map<number, number>;
  /** block of an inode table → the first inode in it */
  inodeTables: Map<number, number>;
}

function dumpe2fs(image: string, offset: number): string {
  return run('dumpe2fs', [`${image}?offset=${offset}`]);
}

function geometry(image: string, offset: number): Geometry {
  const text = dumpe2fs(image, offset);
  const field = (name: string): number => {
    const m = new RegExp(`^${name}:\\s+(\\d+)$`, 'm').exec(text);
    assert.ok(m, `dumpe2fs shows no ${name}`);
    return Number(m[1]);
  };
  const g: Geometry = {
    blockSize: field('Block size'),
    blockCount: field('Block count'),
    firstBlock: field('First block'),
    blocksPerGroup: field('Blocks per group'),
    inodesPerGroup: field('Inodes per group'),
    inodeSize: field('Inode size'),
    summary: new Set(),
    blockBitmaps: new Map(),
    inodeBitmaps: new Map(),
    inodeTables: new Map(),
  };
  const range = (from: string, to?: string): number[] => {
    const out: number[] = [];
    for (let b = Number(from); b <= Number(to ?? from); b++) out.push(b);
    return out;
  };
  let group = -1;
  for (const line of text.split('\n')) {
    const start = /^Group (\d+):/.exec(line);
    if (start) group = Number(start[1]);
    if (group < 0) continue;
    const sb = /superblock at (\d+), Group descriptors at (\d+)-(\d+)/.exec(line);
    if (sb) for (const b of [Number(sb[1]), ...range(sb[2]!, sb[3])]) g.summary.add(b);
    const bb = /^\s*Block bitmap at (\d+)/.exec(line);
    if (bb) g.blockBitmaps.set(Number(bb[1]), group);
    const ib = /^\s*Inode bitmap at (\d+)/.exec(line);
    if (ib) g.inodeBitmaps.set(Number(ib[1]), group);
    const it = /^\s*Inode table at (\d+)-(\d+)/.exec(line);
    if (it) {
      const perBlock = g.blockSize / g.inodeSize;
      for (const [k, b] of range(it[1]!, it[2]).entries()) {
        g.inodeTables.set(b, group * g.inodesPerGroup + k * perBlock + 1);
      }
    }
  }
  assert.ok(g.summary.size > 0 && g.inodeTables.size > 0, `dumpe2fs: no group layout in\n${text}`);
  return g;
}

/** The inode owning each block (debugfs icheck), null for none. */
function owners(image: string, offset: number, blocks: number[]): Map<number, number | null> {
  const out = new Map<number, number | null>();
  if (blocks.length === 0) return out;
  const text = run('debugfs', ['-R', `icheck ${blocks.join(' ')}`, `${image}?offset=${offset}`]);
  for (const m of text.matchAll(/^(\d+)\t(\d+|<block not found>)$/gm)) {
    out.set(Number(m[1]), m[2] === '<block not found>' ? null : Number(m[2]));
  }
  assert.equal(out.size, new Set(blocks).size, `icheck answered for ${out.size} of ${blocks.length} blocks`);
  return out;
}

/**
 * The superblock and group descriptors as dumpe2fs shows them, less what necessarily moves when files are
 * rewritten: the free counts and free ranges (the bitmaps are checked bit by bit), the checksums, the write time
 * and the lifetime write count.
 */
function summaryOf(image: string, offset: number): string[] {
  return dumpe2fs(image, offset)
    .split('\n')
    .filter((l) => !/^(Free blocks|Free inodes|Last write time|Lifetime writes|Checksum):/.test(l))
    .filter((l) => !/^\s+\d+ free blocks?, \d+ free inodes?, /.test(l))
    .filter((l) => !/^\s+Free (blocks|inodes): /.test(l))
    .map((l) => l.replace(/csum 0x[0-9a-f]+/g, 'csum *'));
}

function readBlock(fd: number, at: number, size: number): Buffer {
  const b = Buffer.alloc(size);
  assert.equal(readSync(fd, b, 0, size, at), size);
  return b;
}

/** The indexes of the bits that differ between two equal-length buffers. */
function differingBits(a: Buffer, b: Buffer): number[] {
  const out: number[] = [];
  for (let i = 0; i < a.length; i++) {
    const x = a[i]! ^ b[i]!;
    for (let bit = 0; bit < 8; bit++) if (x & (1 << bit)) out.push(i * 8 + bit);
  }
  return out;
}

/**
 * Everything that differs between an exact restore of a clone and a deployed card of the same size but is not
 * one of `identityPaths` (files, links) or the directories holding them, as sentences ([] when there is none).
 * Both images' root filesystems start at `rootOffset` (the files the re-arm only reads must come out untouched,
 * access time included). Two oracles:
 *  - file by file (both roots mounted read-only): every other path exists on both with the same type, mode,
 *    owner, size, times, inode number and contents (a directory: its names); the directories holding identity
 *    files keep their type, mode and owner;
 *  - block by block: each 4 KiB block that differs is explained, or named: a block of the partition table, the
 *    boot partition or past the root filesystem never; a superblock or group descriptor block only if dumpe2fs
 *    shows the same filesystem less free counts, checksums and write time; a bitmap only in the bits of blocks
 *    and inodes of the identity paths and their directories; an inode table only in those inodes' slots; any
 *    other block only if it belongs to one of those inodes on the card or in the clone (debugfs icheck).
 */
export function identityOnlyDifferences(
  exact: string,
  deployed: string,
  rootOffset: number,
  dir: string,
  identityPaths: readonly string[],
): string[] {
  const problems: string[] = [];
  const identity = new Set(identityPaths);
  const holders = new Set(identityPaths.map((p) => posix.dirname(p)));
  const [clone, card] = withMountedRoots([exact, deployed], rootOffset, dir, (tops) => tops.map(manifest));
  const pathOf = new Map<number, string>([
    [7, 'the reserved GDT blocks inode'],
    [8, 'the journal'],
  ]);
  const allowedInodes = new Set<number>();
  for (const m of [clone!, card!]) {
    for (const [path, e] of m) {
      const other = pathOf.get(e.ino);
      pathOf.set(e.ino, other && other !== path ? `${other} in the clone, ${path} on the card` : path);
      if (identity.has(path) || holders.has(path)) allowedInodes.add(e.ino);
    }
  }

  // file by file
  for (const path of new Set([...clone!.keys(), ...card!.keys()])) {
    if (identity.has(path)) continue;
    const a = clone!.get(path);
    const b = card!.get(path);
    if (!a || !b) {
      problems.push(`${path}: only ${a ? 'in the clone' : 'on the card'}`);
      continue;
    }
    const fields = holders.has(path)
      ? (['kind', 'mode', 'uid', 'gid'] as const)
      : (['kind', 'mode', 'uid', 'gid', 'ino', 'size', 'atime', 'times', 'content'] as const);
    for (const f of fields) {
      if (a[f] !== b[f])
        problems.push(`${path}: ${f} ${String(a[f])} on the clone, ${String(b[f])} on the card`);
    }
  }

  // block by block
  const geo = geometry(deployed, rootOffset);
  const fsBytes = geo.blockCount * geo.blockSize;
  const perInodeBlock = geo.blockSize / geo.inodeSize;
  const toAttribute = new Map<number, string>();
  const inodeOk = (ino: number, what: string): void => {
    if (!allowedInodes.has(ino)) problems.push(`${what}: inode ${ino} (${pathOf.get(ino) ?? 'no path'})`);
  };
  let summaryChanged = false;
  const fa = openSync(exact, 'r');
  const fb = openSync(deployed, 'r');
  try {
    for (const at of differingBlocks(exact, deployed)) {
      if (at < rootOffset || at >= rootOffset + fsBytes) {
        problems.push(`byte ${at}: outside the root filesystem`);
        continue;
      }
      assert.equal(geo.blockSize, 4096, 'differingBlocks compares 4 KiB blocks');
      const block = (at - rootOffset) / geo.blockSize;
      const group = geo.blockBitmaps.get(block) ?? geo.inodeBitmaps.get(block);
      if (geo.summary.has(block)) {
        summaryChanged = true;
      } else if (geo.blockBitmaps.has(block)) {
        for (const bit of differingBits(readBlock(fa, at, geo.blockSize), readBlock(fb, at, geo.blockSize))) {
          const b = geo.firstBlock + group! * geo.blocksPerGroup + bit;
          toAttribute.set(b, `block bitmap bit of block ${b}`);
        }
      } else if (geo.inodeBitmaps.has(block)) {
        for (const bit of differingBits(readBlock(fa, at, geo.blockSize), readBlock(fb, at, geo.blockSize))) {
          inodeOk(group! * geo.inodesPerGroup + bit + 1, `inode bitmap bit`);
        }
      } else if (geo.inodeTables.has(block)) {
        const a = readBlock(fa, at, geo.blockSize);
        const b = readBlock(fb, at, geo.blockSize);
        for (let k = 0; k < perInodeBlock; k++) {
          const slot = [k * geo.inodeSize, (k + 1) * geo.inodeSize] as const;
          const ino = geo.inodeTables.get(block)! + k;
          const [x, y] = [a.subarray(...slot), b.subarray(...slot)];
          if (x.equals(y)) continue;
          const bytes = [...x.keys()].filter((i) => x[i] !== y[i]).map((i) => `0x${i.toString(16)}`);
          inodeOk(ino, `inode table block ${block}, bytes ${bytes.join(' ')} of the inode`);
        }
      } else {
        toAttribute.set(block, `block ${block}`);
      }
    }
  } finally {
    closeSync(fa);
    closeSync(fb);
  }
  const blocks = [...toAttribute.keys()];
  const inClone = owners(exact, rootOffset, blocks);
  const onCard = owners(deployed, rootOffset, blocks);
  for (const [b, what] of toAttribute) {
    const mine = [...new Set([inClone.get(b), onCard.get(b)])].filter((i): i is number => i != null);
    if (!mine.some((i) => allowedInodes.has(i))) {
      const whose = mine.length
        ? mine.map((i) => `inode ${i} (${pathOf.get(i) ?? 'no path'})`)
        : ['no inode'];
      problems.push(`${what} differs, and belongs to ${whose.join(' / ')}`);
    }
  }
  if (summaryChanged) {
    const a = summaryOf(exact, rootOffset);
    const b = summaryOf(deployed, rootOffset);
    const changed = b.filter((l, i) => l !== a[i]);
    if (a.length !== b.length || changed.length) {
      problems.push(`superblock or group descriptors: ${JSON.stringify(changed.slice(0, 5))}`);
    }
  }
  return problems;
}
