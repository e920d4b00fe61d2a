// Runs the benchmarks (compiled to out/bench): each prints its ratios against the standard tools measured
// on the same data in the same run. Pass a substring to run only matching benches: npm run bench -- clone
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';

const dir = process.env.ATLAS_OUT
  ? resolve(process.env.ATLAS_OUT, 'bench')
  : new URL('../out/bench', import.meta.url).pathname;
const filter = process.argv[2] ?? '';
const benches = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.js') && f.includes(filter))
  .sort();
let failed = 0;
for (const file of benches) {
  console.log(`\n=== ${file}`);
  const r = spawnSync(process.execPath, [join(dir, file)], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
