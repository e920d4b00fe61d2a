// Parallel gzip (worker threads, multi-member) against `pigz` on the same data in the same run: throughput
// and size at levels 6 and 1, plus our gunzip against `pigz -dc`. Prints ratios (time ours/pigz: ≤ 1.0 is
// as fast or faster; size ours/pigz).
//   node out/bench/gzip.bench.js [data MiB, default 384] [runs, default 3]
import { execFileSync } from 'node:child_process';
import { createReadStream, createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createParallelGzip } from '../main/engine/compress/gzip-writer';
import { createGunzip } from '../main/engine/compress/gunzip';
import { row, timeTool } from './support';

const mib = Number(process.argv[2] ?? 384);
const runs = Number(process.argv[3] ?? 3);
const cores = availableParallelism();
const dir = mkdtempSync(join(tmpdir(), 'atlas-bench-gzip-'));
const data = join(dir, 'data.bin');

function sh(script: string): void {
  execFileSync('bash', ['-o', 'pipefail', '-ec', script], {
    cwd: dir,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

function best(times: number[]): number {
  return Math.min(...times);
}

async function timeOurs(step: () => Promise<void>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await step();
    times.push((performance.now() - start) / 1000);
  }
  return best(times);
}

async function main(): Promise<void> {
  // real files (libraries, text, binaries) as a filesystem holds them, read through the page cache by both
  console.log(`${mib} MiB of /usr as tar in ${dir}; ${cores} cores; best of ${runs}`);
  sh(`tar cf - /usr/lib /usr/share /usr/bin 2>/dev/null | head -c ${mib * 1024 * 1024} > data.bin || true`);
  const bytes = statSync(data).size;
  const rate = (seconds: number) => bytes / 1024 / 1024 / seconds;
  const lines: string[] = [];
  for (const level of [6, 1]) {
    const theirs = best(timeTool(`pigz -${level} -p ${cores} -c data.bin > pigz.gz`, dir, runs));
    const ours = await timeOurs(() =>
      pipeline(
        createReadStream(data, { highWaterMark: 1024 * 1024 }),
        createParallelGzip({ level }),
        createWriteStream(join(dir, 'ours.gz')),
      ),
    );
    sh('pigz -dc ours.gz | cmp - data.bin');
    const sizeOurs = statSync(join(dir, 'ours.gz')).size;
    const sizePigz = statSync(join(dir, 'pigz.gz')).size;
    lines.push(row(`gzip -${level} throughput (MiB/s)`, rate(ours), rate(theirs), 'MiB/s', '≥ 1.0'));
    lines.push(row(`gzip -${level} time (s)`, ours, theirs, 's', '≤ 1.0'));
    lines.push(row(`gzip -${level} size (MiB)`, sizeOurs / 2 ** 20, sizePigz / 2 ** 20, 'MiB', '≤ 1.02'));
  }
  const theirs = best(timeTool('pigz -dc pigz.gz > /dev/null', dir, runs));
  const ours = await timeOurs(async () => {
    let n = 0;
    await pipeline(
      createReadStream(join(dir, 'pigz.gz'), { highWaterMark: 1024 * 1024 }),
      createGunzip(),
      async (s: AsyncIterable<Buffer>) => {
        for await (const c of s) n += c.length;
      },
    );
    if (n !== bytes) throw new Error(`gunzip gave ${n} bytes, expected ${bytes}`);
  });
  lines.push(row('gunzip time (s)', ours, theirs, 's', '≤ 1.0 (pigz -dc)'));
  console.log(lines.join('\n'));
}

main()
  .catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  })
  .finally(() => rmSync(dir, { recursive: true, force: true }));
