/**
 * Phase 1 benchmark (issue 2): on a ~2 GiB ext4 partition about half full of real files (a copy of parts of
 * /usr), our clone vs `partclone.ext4 -c | pigz -6`, and our restore vs `pigz -dc | partclone.ext4 -r`, same data,
 * same run, caches dropped before each run; and our restore vs `pigz -dc` of our clone's root image alone, to
 * /dev/null (the single-stream decompressor's limit). Prints time and size ratios and the peak memory of our
 * CLI. ATLAS_BENCH_RUNS sets how many runs the restore side takes the best of (default 2).
 * Needs root (loop devices, mount). Run: npm run bench -- clone-restore
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { bestOf, measure, row } from './support';

const CLI = join(__dirname, '..', 'main', 'cli', 'run.js');
const sh = (script: string): string =>
  execFileSync('bash', ['-o', 'pipefail', '-ec', script], { encoding: 'utf8' });

const work = mkdtempSync('/var/tmp/atlas-bench-');
const disk = join(work, 'disk.img');
const target = join(work, 'target.img');
let src = '';
let dst = '';
try {
  sh(`truncate -s 2100M ${disk} && printf 'label: dos\\nstart=2048, type=83\\n' | sfdisk -q ${disk}`);
  src = sh(`losetup -f --show -P ${disk}`).trim();
  sh(`partx -u ${src} 2>/dev/null || partx -a ${src}`);
  sh(`mkfs.ext4 -q -F ${src}p1 && mkdir -p ${work}/mnt && mount ${src}p1 ${work}/mnt`);
  sh(
    `cp -a /usr/share /usr/bin /usr/sbin ${work}/mnt/ && cp -a /usr/lib/python3* ${work}/mnt/ 2>/dev/null || true`,
  );
  const used = sh(`df -B1 --output=used ${work}/mnt | tail -1`).trim();
  sh(`umount ${work}/mnt`);
  console.log(`source: 2 GiB ext4 partition, ${(Number(used) / 2 ** 20).toFixed(0)} MiB used`);

  sh(`truncate -s 2100M ${target}`);
  dst = sh(`losetup -f --show -P ${target}`).trim();

  const [ours, theirs, theirsSynced] = bestOf(2, [
    () => {
      rmSync(join(work, 'out'), { recursive: true, force: true });
      // the disk image behind the loop device: a card given to the CLI goes through the root broker, which
      // (rightly) refuses a bare loop device; the same bytes are read either way
      return measure(`mkdir -p ${work}/out && node ${CLI} clone ${disk} ${work}/out --tag BENCH`);
    },
    () => measure(`partclone.ext4 -c -s ${src}p1 -o - -L ${work}/log | pigz -6 > ${work}/ref.pc.gz`),
    // ours fsyncs what it writes before calling the clone complete; the same for the shell pipeline
    () =>
      measure(
        `partclone.ext4 -c -s ${src}p1 -o - -L ${work}/log | pigz -6 > ${work}/ref.pc.gz && sync ${work}/ref.pc.gz`,
      ),
  ]);
  const folder = join(work, 'out', 'golden-clone-BENCH');
  const ourGz = readdirSync(folder).find((f) => f.endsWith('-root.partclone.gz'))!;
  const ourSize = statSync(join(folder, ourGz)).size;
  const refSize = statSync(join(work, 'ref.pc.gz')).size;

  sh(`sfdisk -q ${dst} < ${folder}/partition-table.dump && partx -u ${dst} 2>/dev/null || partx -a ${dst}`);
  const restoreRuns = Number(process.env.ATLAS_BENCH_RUNS ?? 2);
  const [ourRestore, refRestore, inflateOnly] = bestOf(restoreRuns, [
    // the image file behind the target loop device (see the clone above), written through the page cache and
    // synced as a card would be
    () => measure(`node ${CLI} restore ${folder} ${target} --yes --no-grow`),
    () => measure(`pigz -dc ${work}/ref.pc.gz | partclone.ext4 -r -s - -o ${dst}p1 -L ${work}/log`),
    // the decompressor's own limit on the clone Atlas made: pigz inflates one stream on one thread, while
    // our restore inflates the clone's gzip members side by side (issue 13)
    () => measure(`pigz -dc ${folder}/${ourGz} > /dev/null`),
  ]);

  console.log(row('clone time', ours!.seconds, theirs!.seconds, 's', '<= 1.0'));
  console.log(row('clone time, reference + sync', ours!.seconds, theirsSynced!.seconds, 's', '<= 1.0'));
  console.log(row('clone output size', ourSize / 2 ** 20, refSize / 2 ** 20, 'MiB', '<= 1.02'));
  console.log(row('restore time', ourRestore!.seconds, refRestore!.seconds, 's', '<= 1.0'));
  console.log(
    row('restore time vs `pigz -dc` alone', ourRestore!.seconds, inflateOnly!.seconds, 's', '<= 1.0'),
  );
  console.log(
    `peak memory: clone ${(ours!.maxRssBytes / 2 ** 20).toFixed(0)} MiB, restore ${(ourRestore!.maxRssBytes / 2 ** 20).toFixed(0)} MiB (target < 300 MB)`,
  );
} finally {
  if (src) sh(`losetup -d ${src} || true`);
  if (dst) sh(`losetup -d ${dst} || true`);
  rmSync(work, { recursive: true, force: true });
}
