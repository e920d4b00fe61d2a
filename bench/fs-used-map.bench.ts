// Time and CPU to compute the used-block map of a large sparse ext4 (default 32 GiB, 4 KiB blocks) and of a
// large FAT32, against the bitmap phase of `partclone.<fs> -c` (whole run, data is tiny). Prints seconds.
//   node out/bench/fs-used-map.bench.js [ext4 GiB, default 32] [runs, default 3]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openBlockFile } from '../main/engine/io/block-file';
import { readUsedBlockMap } from '../main/engine/fs';

const gib = Number(process.argv[2] ?? 32);
const runs = Number(process.argv[3] ?? 3);
const dir = mkdtempSync(join(tmpdir(), 'atlas-bench-fsmaps-'));

function sh(script: string): void {
  execFileSync('bash', ['-o', 'pipefail', '-ec', script], {
    cwd: dir,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

async function measure(path: string): Promise<{ wall: number; cpu: number; used: number; total: number }> {
  let best = { wall: Infinity, cpu: Infinity, used: 0, total: 0 };
  for (let i = 0; i < runs; i++) {
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const file = await openBlockFile(path);
    const map = await readUsedBlockMap(file, 0);
    await file.close();
    const wall = (performance.now() - t0) / 1000;
    const c = process.cpuUsage(cpu0);
    const cpu = (c.user + c.system) / 1e6;
    if (wall < best.wall) best = { wall, cpu, used: map.usedBlocks, total: map.totalBlocks };
  }
  return best;
}

function timePartclone(tool: string, path: string): number {
  const t0 = performance.now();
  sh(`partclone.${tool} -c -s ${path} -o - -L ${dir}/log > /dev/null 2>&1`);
  return (performance.now() - t0) / 1000;
}

async function main(): Promise<void> {
  try {
    sh(`truncate -s ${gib}G ext4.img && mkfs.ext4 -q -F ext4.img`);
    // without group checksums every group's bitmap is on disk and must be read
    sh(`truncate -s ${gib}G ext4-nocsum.img && mkfs.ext4 -q -F -O ^metadata_csum,^uninit_bg ext4-nocsum.img`);
    sh(`truncate -s ${gib}G ext4-1k.img && mkfs.ext4 -q -F -b 1024 -O ^metadata_csum,^uninit_bg ext4-1k.img`);
    sh(`truncate -s ${gib}G fat.img && mkfs.vfat -F 32 -s 8 fat.img`);
    for (const [name, tool] of [
      ['ext4.img', 'ext4'],
      ['ext4-nocsum.img', 'ext4'],
      ['ext4-1k.img', 'ext4'],
      ['fat.img', 'fat32'],
    ] as const) {
      const path = join(dir, name);
      const ours = await measure(path);
      const pc = timePartclone(tool, path);
      console.log(
        `${name} ${gib} GiB: ours ${ours.wall.toFixed(3)} s wall, ${ours.cpu.toFixed(3)} s CPU ` +
          `(${ours.used}/${ours.total} blocks used); partclone.${tool} -c ${pc.toFixed(3)} s`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

void main();
