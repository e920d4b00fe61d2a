/**
 * Check this card vs what proves a card's capacity the slow way: writing the whole card, flushing it, and
 * reading it back (dd with O_DIRECT both ways, as f3write/f3read or H2testw do), on the same 256 MiB loop-device
 * card, same run. The check flushes its markers before reading them back, so the reference flushes too, and the
 * backing file's cached pages are dropped before each side reads. Target: at most 5% of its time.
 * Run: npm run bench -- check-card (root: loop devices).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { checkCard } from '../main/engine/jobs/check-card';
import { openDirect } from '../main/engine/io/direct';
import { dropFileCaches, pairedRow } from './support';

const MIB = 1024 * 1024;
const CARD_MIB = 256;
const RUNS = 3;
const sh = (script: string): string =>
  execFileSync('bash', ['-o', 'pipefail', '-ec', script], { encoding: 'utf8' });

async function main(): Promise<void> {
  const dir = mkdtempSync('/tmp/atlas-bench-check-');
  const file = join(dir, 'card.bin');
  sh(`truncate -s ${CARD_MIB}M ${file}`);
  const loop = sh(`losetup -f --show ${file}`).trim();
  try {
    const pairs: Array<[number, number]> = [];
    for (let i = 0; i < RUNS; i++) {
      dropFileCaches(file, loop);
      const dev = await openDirect(loop, { write: true, exclusive: true });
      const start = performance.now();
      const r = await checkCard(dev);
      const ours = (performance.now() - start) / 1000;
      await dev.handle.close();
      if (r.verdict !== 'genuine') throw new Error(`a genuine card was called ${r.verdict}`);
      dropFileCaches(file, loop);
      const refStart = performance.now();
      sh(`dd if=/dev/zero of=${loop} bs=4M count=${CARD_MIB / 4} oflag=direct conv=fsync status=none`);
      const written = performance.now();
      dropFileCaches(file, loop);
      const readStart = performance.now();
      sh(`dd if=${loop} of=/dev/null bs=4M iflag=direct status=none`);
      pairs.push([ours, (written - refStart + performance.now() - readStart) / 1000]);
    }
    console.log(`card: ${CARD_MIB} MiB loop device (${(CARD_MIB * MIB) / MIB} MiB claimed and real)`);
    console.log(pairedRow('check-card vs full write+read', pairs, '<= 0.05'));
  } finally {
    sh(`losetup -d ${loop}`);
    rmSync(dir, { recursive: true, force: true });
  }
}

void main();
