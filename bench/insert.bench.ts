/**
 * Phase 0 Insert benchmark (issue 3): on a 2 GiB Armbian-like base (real geometry: 512 MiB FAT; the root mostly
 * full, as Armbian ships it, ~1.2 GiB allocated), `atlas insert` (the CLI, node start-up included) vs `cp base
 * out`, same run, caches dropped before each run; then the injection step alone, timed inside the job. Also a
 * .img.xz base vs `xz -dc -T0`.
 * Targets: insert at most 1.2x cp's time; injection under 2 s. Run: npm run bench -- insert
 *
 * Two things cp does not do set the floor: insert fsyncs the image before naming it complete (cp leaves it in
 * the page cache), so `cp && sync` is printed too; and the manifest holds the base's SHA-256, which reads every
 * byte at ~1.5 GiB/s even where cp skips holes. The hash is remembered per base file, so the first insert from
 * a base pays it and the next ones do not: both are printed.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { insertJob } from '../main/engine/jobs/insert';
import { bestOf, dropCaches, dropFileCaches, measure, row } from './support';

const CLI = join(__dirname, '..', 'main', 'cli', 'run.js');
const FIXTURE = join(process.cwd(), 'test/fixtures/make-armbian-image.sh');
const sh = (script: string): string =>
  execFileSync('bash', ['-o', 'pipefail', '-ec', script], { encoding: 'utf8' });

async function main(): Promise<void> {
  const work = mkdtempSync('/var/tmp/atlas-insert-bench-');
  try {
    const base = join(work, 'Armbian_26.2.1_Rpi4b_trixie_current_6.18.9_minimal.img');
    sh(`IMG_MIB=2048 FAT_MIB=512 EXTRA_MIB=1100 bash ${FIXTURE} ${base}`);
    const script = join(work, 'atlas_firstboot.sh');
    const service = join(work, 'atlas-firstboot.service');
    const secrets = join(work, 'atlas_secrets.conf');
    writeFileSync(script, `#!/bin/bash\n# ${'provisioning steps '.repeat(2000)}\nexit 0\n`);
    writeFileSync(
      service,
      '[Unit]\nDescription=Atlas\n[Service]\nType=oneshot\nExecStart=/usr/local/sbin/atlas_firstboot.sh\n[Install]\nWantedBy=multi-user.target\n',
    );
    writeFileSync(secrets, 'TOKEN=bench\n');
    chmodSync(secrets, 0o600);
    const du = sh(`du -m ${base} | cut -f1`).trim();
    console.log(`base: 2048 MiB image, ${du} MiB allocated (the empty space sparse, as xz -d leaves it)`);

    const insertCmd = (b: string, tag: string): string =>
      `node ${CLI} insert ${b} --firstboot ${script} --service ${service} --secrets ${secrets} --version 1-0 --tag ${tag} --out ${work}/out --force`;
    // cold: the base is hashed (the cache in the build folder is removed first); warm: its hash is remembered
    const [cold, warm, cp, cpSync] = bestOf(
      5,
      [
        () => measure(`rm -rf ${work}/out/.atlas-cache && ${insertCmd(base, 'RAW')}`),
        () => measure(insertCmd(base, 'RAW')),
        () => measure(`rm -f ${work}/cp.img && cp ${base} ${work}/cp.img`),
        () => measure(`rm -f ${work}/cp.img && cp ${base} ${work}/cp.img && sync ${work}/cp.img`),
      ],
      // the base starts cold; node and cp stay loaded, as in an app that is already running
      () => dropFileCaches(base),
    );
    console.log(row('insert .img (first: hashes base) vs cp', cold!.seconds, cp!.seconds, 's', '<= 1.2'));
    console.log(row('insert .img (hash remembered) vs cp', warm!.seconds, cp!.seconds, 's', '<= 1.2'));
    console.log(row('insert .img (first) vs cp + sync', cold!.seconds, cpSync!.seconds, 's', 'both durable'));
    console.log(
      row('insert .img (remembered) vs cp + sync', warm!.seconds, cpSync!.seconds, 's', 'both durable'),
    );
    console.log(`  peak RSS of atlas insert: ${(cold!.maxRssBytes / 2 ** 20).toFixed(0)} MiB`);

    // the injection alone, as the job times it (worker start, writes, unmount + sync)
    const injects: number[] = [];
    const verifies: number[] = [];
    for (let i = 0; i < 3; i++) {
      dropCaches();
      const r = await insertJob({
        base,
        firstboot: script,
        service,
        secrets,
        version: 1,
        patch: 0,
        tag: `INJECT${i}`,
        outDir: join(work, 'out'),
        force: true,
        hashCacheDir: false,
      });
      injects.push(r.timings.injectMs);
      verifies.push(r.timings.verifyMs);
      rmSync(r.output);
    }
    const best = (xs: number[]): number => Math.min(...xs) / 1000;
    console.log(
      `injection step alone: best ${best(injects).toFixed(3)} s of ${injects.length} (target < 2 s)`,
    );
    console.log(`read-back verification: best ${best(verifies).toFixed(3)} s`);

    sh(`xz -T0 -3 -k ${base}`);
    const [oursXz, xz] = bestOf(2, [
      () => measure(insertCmd(`${base}.xz`, 'XZ')),
      () => measure(`xz -dc -T0 ${base}.xz > ${work}/xz.img`),
    ]);
    console.log(row('insert .img.xz vs xz -dc -T0', oursXz!.seconds, xz!.seconds, 's', 'info'));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
