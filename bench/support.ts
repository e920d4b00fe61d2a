/** Shared by the benchmarks: timing a command, peak memory, cache dropping and the ratio table. */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';

export interface Measured {
  seconds: number;
  /** peak resident memory of the process tree's largest process, bytes (GNU time's %M) */
  maxRssBytes: number;
}

/** Runs a shell command under GNU time; throws when it fails. */
export function measure(script: string): Measured {
  const timeFile = `/tmp/atlas-bench-time-${process.pid}`;
  const start = process.hrtime.bigint();
  const r = spawnSync(
    '/usr/bin/time',
    ['-f', '%M', '-o', timeFile, 'bash', '-o', 'pipefail', '-ec', script],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
      encoding: 'utf8',
    },
  );
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (r.status !== 0) throw new Error(`benchmark step failed (${r.status}): ${script}\n${r.stderr}`);
  const kb = Number(spawnSync('cat', [timeFile], { encoding: 'utf8' }).stdout.trim().split('\n').at(-1));
  return { seconds, maxRssBytes: kb * 1024 };
}

/**
 * Runs a shell command `runs` times in `cwd`, its output discarded, and returns each run's wall time in
 * seconds (the caller picks best or median); throws when a run fails.
 */
export function timeTool(script: string, cwd: string, runs: number): number[] {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    const r = spawnSync('bash', ['-o', 'pipefail', '-ec', script], { cwd, stdio: 'ignore' });
    if (r.status !== 0) throw new Error(`${script} failed`);
    times.push((performance.now() - start) / 1000);
  }
  return times;
}

/** Empties the page cache so each run reads from the device, as a first read of a card would. */
export function dropCaches(): void {
  spawnSync('sync');
  try {
    writeFileSync('/proc/sys/vm/drop_caches', '3\n');
  } catch {
    // not root: the runs share a warm cache, which favours neither side
  }
}

/**
 * Drops the cached pages of these files only (and a block device's buffers): the data under test starts cold
 * while the programs stay loaded. A global drop also evicts node's own 100 MB binary, whose code then faults
 * back in from the disk in the middle of our timed run, a cost a running app never pays and dd barely does.
 */
export function dropFileCaches(...paths: string[]): void {
  spawnSync('sync');
  for (const path of paths) {
    if (path.startsWith('/dev/')) spawnSync('blockdev', ['--flushbufs', path]);
    else spawnSync('dd', [`if=${path}`, 'iflag=nocache', 'count=0', 'status=none']);
  }
  // a virtual disk may still be writing the data just synced back on its host; reads meanwhile stall for
  // seconds at random (measured: 0.3 to 2.9 s for the same dd read), which would drown the comparison
  spawnSync('sleep', ['1']);
}

/**
 * Best of `runs` (after dropping caches each time: all of them, or what `cold` drops), alternating with the
 * reference so drift hits both.
 */
export function bestOf(
  runs: number,
  steps: Array<() => Measured>,
  cold: () => void = dropCaches,
): Measured[] {
  const best: Measured[] = steps.map(() => ({ seconds: Infinity, maxRssBytes: 0 }));
  for (let i = 0; i < runs; i++) {
    steps.forEach((step, k) => {
      cold();
      const m = step();
      if (m.seconds < best[k]!.seconds)
        best[k] = { seconds: m.seconds, maxRssBytes: Math.max(best[k]!.maxRssBytes, m.maxRssBytes) };
      else best[k]!.maxRssBytes = Math.max(best[k]!.maxRssBytes, m.maxRssBytes);
    });
  }
  return best;
}

export function row(label: string, ours: number, theirs: number, unit: string, target: string): string {
  const ratio = ours / theirs;
  return `${label.padEnd(34)} ours ${ours.toFixed(2).padStart(8)} ${unit}  reference ${theirs.toFixed(2).padStart(8)} ${unit}  ratio ${ratio.toFixed(3)}  (target ${target})`;
}

/**
 * Ours and the reference, run after run (alternating, same data, same cache state). On a virtual disk whose
 * speed swings by a third between identical runs, best-of favours whichever side has the wider spread; the
 * median of the runs' own ratios compares like with like. Both are printed; the target is read on the median.
 */
export function pairedRow(label: string, pairs: Array<[number, number]>, target: string): string {
  const median = (xs: number[]): number => {
    const sorted = [...xs].sort((a, b) => a - b);
    const mid = sorted.length >> 1;
    return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  };
  const ours = Math.min(...pairs.map((p) => p[0]));
  const theirs = Math.min(...pairs.map((p) => p[1]));
  const ratios = pairs.map(([a, b]) => a / b);
  return (
    `${label.padEnd(34)} ours ${ours.toFixed(2).padStart(6)} s  reference ${theirs.toFixed(2).padStart(6)} s  ` +
    `best-of ratio ${(ours / theirs).toFixed(3)}  median paired ratio ${median(ratios).toFixed(3)} ` +
    `(runs ${ratios.map((r) => r.toFixed(2)).join(' ')}; target ${target})`
  );
}
