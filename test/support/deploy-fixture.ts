/**
 * For the deploy tests: a clone of a kiosk that has booted (a machine ID, SSH host keys, its hostname, Armbian's
 * IMAGE_UUID), and the oracles that tell a deployed card from an exact copy of the same clone.
 */
import assert from 'node:assert/strict';
import { closeSync, mkdirSync, openSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cloneJob } from '../../main/engine/jobs/clone';
import { localCardAccess } from '../../main/engine/drives/index';
import { makeArmbianImage } from './armbian';
import { run, tryRun } from './sh';

/** Builds the booted kiosk image in `dir` and clones it there; returns the clone folder and the image. */
export async function bootedClone(dir: string, tag: string): Promise<{ folder: string; image: string }> {
  const extra = join(dir, 'extra');
  mkdirSync(join(extra, 'etc/ssh'), { recursive: true });
  writeFileSync(join(extra, 'etc/machine-id'), '0123456789abcdef0123456789abcdef\n');
  for (const t of ['rsa', 'ed25519']) {
    writeFileSync(join(extra, `etc/ssh/ssh_host_${t}_key`), `PRIVATE ${t}\n`, { mode: 0o600 });
    writeFileSync(join(extra, `etc/ssh/ssh_host_${t}_key.pub`), `PUBLIC ${t}\n`);
  }
  writeFileSync(join(extra, 'etc/hostname'), 'kiosk-src\n');
  writeFileSync(join(extra, 'etc/hosts'), '127.0.0.1\tlocalhost\n127.0.1.1\tkiosk-src\n');
  const image = makeArmbianImage(join(dir, 'kiosk.img'), { imgMib: 160, extraMib: 24, extraRoot: extra });
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

/**
 * The files of the root filesystems of two images that differ (diff -rq of both mounted read-only), as paths
 * inside the filesystem.
 */
export function differingFiles(exact: string, deployed: string, rootOffset: number, dir: string): string[] {
  const mounts: string[] = [];
  try {
    for (const [i, image] of [exact, deployed].entries()) {
      // a copy: mount refuses a second loop device over a file a card's loop device is on
      const copy = join(dir, `cmp-${i}.img`);
      run('cp', ['--sparse=always', image, copy]);
      const at = join(dir, `cmp-mnt-${i}`);
      mkdirSync(at, { recursive: true });
      run('mount', ['-o', `ro,noload,loop,offset=${rootOffset}`, copy, at]);
      mounts.push(at);
    }
    const r = tryRun('diff', ['-rq', '--no-dereference', mounts[0]!, mounts[1]!]);
    assert.ok(r.status === 0 || r.status === 1, r.stderr);
    return r.stdout
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const only = /^Only in (.+): (.+)$/.exec(line);
        const files = /^(?:Files|Symbolic links) (\S+) and \S+ differ$/.exec(line);
        const path = only ? join(only[1]!, only[2]!) : files ? files[1]! : line;
        return path.replace(mounts[0]!, '').replace(mounts[1]!, '');
      });
  } finally {
    for (const m of mounts) tryRun('umount', [m]);
    for (const i of [0, 1]) rmSync(join(dir, `cmp-${i}.img`), { force: true });
  }
}
