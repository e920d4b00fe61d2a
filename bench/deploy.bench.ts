/**
 * Deploy benchmark (issue 13): the same clone restored onto one card (exact) and deployed onto four cards side
 * by side (written from one decompression, each read back, each re-armed and its re-arm read back), in pairs. The
 * cards are loop devices over files in /dev/shm, so the four are independent devices as four card readers would be, and
 * the disk under the benchmark is not what is measured. Root is not grown on either side (it costs the same per
 * card either way and is not what one read of the clone saves). One unmeasured run of each first: it allocates
 * the /dev/shm pages behind the cards (4 s for the four), which a card has from the factory. Then RUNS pairs;
 * single runs on this shared 2-core box swing by ±10%, so the target is read on the median of the pairs' own
 * ratios (pairedRow), best-of printed beside it. Needs root (loop devices).
 * Run: npm run bench -- deploy
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { cloneJob } from '../main/engine/jobs/clone';
import { restoreJob, type RestoreOptions } from '../main/engine/jobs/restore';
import { localCardAccess } from '../main/engine/drives/index';
import { pairedRow } from './support';

const IMG_MIB = 1024;
const CARDS = 4;
const RUNS = 7;
const sh = (script: string): string =>
  execFileSync('bash', ['-o', 'pipefail', '-ec', script], { encoding: 'utf8' });

async function main(): Promise<void> {
  const work = mkdtempSync('/var/tmp/atlas-bench-deploy-');
  const cards = mkdtempSync('/dev/shm/atlas-bench-deploy-');
  const loops: string[] = [];
  try {
    const image = join(work, 'kiosk.img');
    sh(`IMG_MIB=${IMG_MIB} FAT_MIB=64 EXTRA_MIB=600 bash test/fixtures/make-armbian-image.sh ${image}`);
    const { folder } = await cloneJob({
      source: image,
      outDir: work,
      tag: 'BENCH',
      access: localCardAccess(),
    });
    const used = Number(sh(`du -sb ${folder} | cut -f1`)) / 2 ** 20;
    for (let i = 0; i <= CARDS; i++) {
      sh(`truncate -s ${IMG_MIB}M ${cards}/card${i}.bin`);
      loops.push(sh(`losetup -f --show ${cards}/card${i}.bin`).trim());
    }
    const base = { folder, grow: false, eject: false, access: localCardAccess() } as const;
    const one: RestoreOptions = { ...base, intent: 'exact', targets: [{ device: loops[0]! }] };
    const four: RestoreOptions = {
      ...base,
      intent: 'deploy',
      targets: loops.slice(1).map((device, i) => ({ device, hostname: `bench-${i + 1}` })),
    };
    const time = async (options: RestoreOptions): Promise<number> => {
      sh('sync');
      const started = performance.now();
      const result = await restoreJob(options);
      if (!result.ok || !result.targets.every((t) => t.verified)) throw new Error(JSON.stringify(result));
      return (performance.now() - started) / 1000;
    };
    await time(one);
    await time(four);
    const pairs: Array<[number, number]> = [];
    for (let run = 0; run < RUNS; run++) {
      const single = await time(one);
      pairs.push([await time(four), single]);
    }
    console.log(`clone: ${used.toFixed(0)} MiB of partclone images; cards: loop devices over /dev/shm`);
    console.log(pairedRow(`deploy to ${CARDS} vs restore to 1`, pairs, '<= 1.5'));
  } finally {
    for (const l of loops) sh(`losetup -d ${l} || true`);
    rmSync(cards, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
