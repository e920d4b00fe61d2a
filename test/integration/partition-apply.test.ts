/**
 * parseSfdiskDump + applyPartitionTable + growLastPartition against the real sfdisk (util-linux 2.38):
 * the sectors we write are compared with the ones `sfdisk IMG < dump` writes, and sfdisk reads ours back.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openBlockFile } from '../../main/engine/io/block-file';
import {
  applyPartitionTable,
  formatSfdiskDump,
  growLastPartition,
  parseSfdiskDump,
  readPartitionTable,
  type PartitionTable,
} from '../../main/engine/partition';
import { isAtlasError } from '../../main/engine/errors';
import { attachLoop } from '../support/loop';
import { isRoot, run, scratchDir, tryRun } from '../support/sh';
import { DOS_SCRIPT, GPT_SCRIPT, LOGICAL_SCRIPT, sfdiskImage } from './partition-fixtures';

function sfdiskDump(path: string): string {
  return run('sfdisk', ['--dump', path]);
}

/** A blank image whose boot-code area holds random bytes, so we see whether they are kept. */
function blankImage(dir: string, name: string, mib: number, bootCode: Buffer): string {
  const path = join(dir, name);
  run('truncate', ['-s', `${mib}M`, path]);
  const bytes = readFileSync(path);
  bootCode.copy(bytes, 0);
  writeFileSync(path, bytes);
  return path;
}

async function apply(path: string, table: PartitionTable): Promise<PartitionTable> {
  const file = await openBlockFile(path, { write: true });
  try {
    return await applyPartitionTable(file, table);
  } finally {
    await file.close();
  }
}

async function read(path: string): Promise<PartitionTable> {
  const file = await openBlockFile(path);
  try {
    return await readPartitionTable(file);
  } finally {
    await file.close();
  }
}

const sha256 = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');
const sectors = (path: string, from: number, count: number): Buffer =>
  readFileSync(path).subarray(from * 512, (from + count) * 512);
const withoutDevice = (dump: string): string => dump.replace(/^device: .*\n/m, '').replace(/^\S+ :/gm, 'P :');

for (const [label, script, mib] of [
  ['dos (types c/b/e/83, bootable)', DOS_SCRIPT, 64],
  ['dos with extended and logical partitions', LOGICAL_SCRIPT, 32],
] as const) {
  test(`${label}: parse(sfdisk --dump) → apply gives the sectors sfdisk writes`, async () => {
    const { dir, cleanup } = scratchDir();
    try {
      const src = sfdiskImage(dir, 'src.img', mib, script);
      const dump = sfdiskDump(src);
      const table = parseSfdiskDump(dump);
      assert.deepEqual(await read(src), table, 'read(image) equals parse(dump)');
      const boot = randomBytes(440);
      const ours = blankImage(dir, 'ours.img', mib, boot);
      const theirs = blankImage(dir, 'theirs.img', mib, boot);
      run('sfdisk', ['--no-reread', '--no-tell-kernel', '-q', theirs], { input: dump });
      await apply(ours, table);
      assert.deepEqual(sectors(ours, 0, 1), sectors(theirs, 0, 1), 'MBR sector byte-identical');
      assert.deepEqual(sectors(ours, 0, 1).subarray(0, 440), boot, 'boot code kept');
      for (const p of table.partitions.filter((q) => q.number > 4)) {
        // EBRs sit in front of each logical partition: compare the whole extended area's table sectors
        const ext = table.partitions.find((q) => q.type === '5')!;
        const a = sectors(ours, ext.start, p.start - ext.start);
        const b = sectors(theirs, ext.start, p.start - ext.start);
        assert.deepEqual(a, b, `EBR area before logical partition ${p.number}`);
      }
      assert.equal(withoutDevice(sfdiskDump(ours)), withoutDevice(dump));
    } finally {
      cleanup();
    }
  });
}

test('Armbian fixture: dump → apply to a fresh image gives the same MBR sector as sfdisk', async () => {
  const { dir, cleanup } = scratchDir();
  try {
    const src = join(dir, 'armbian.img');
    run('bash', ['test/fixtures/make-armbian-image.sh', src]);
    const dump = sfdiskDump(src);
    const table = parseSfdiskDump(dump);
    assert.deepEqual(await read(src), table);
    const boot = Buffer.alloc(440);
    const ours = blankImage(dir, 'ours.img', 256, boot);
    const theirs = blankImage(dir, 'theirs.img', 256, boot);
    run('sfdisk', ['--no-reread', '--no-tell-kernel', '-q', theirs], { input: dump });
    await apply(ours, table);
    assert.deepEqual(sectors(ours, 0, 1), sectors(theirs, 0, 1));
  } finally {
    cleanup();
  }
});

test('GPT: parse(sfdisk --dump) → apply: sfdisk reads the same dump back, --verify clean, table sectors identical', async () => {
  const { dir, cleanup } = scratchDir();
  try {
    const src = sfdiskImage(dir, 'src.img', 32, GPT_SCRIPT);
    const dump = sfdiskDump(src);
    const table = parseSfdiskDump(dump);
    assert.deepEqual(await read(src), table, 'read(image) equals parse(dump)');
    const boot = randomBytes(440);
    const ours = blankImage(dir, 'ours.img', 32, boot);
    const theirs = blankImage(dir, 'theirs.img', 32, boot);
    run('sfdisk', ['--no-reread', '--no-tell-kernel', '-q', theirs], { input: dump });
    await apply(ours, table);
    assert.equal(withoutDevice(sfdiskDump(ours)), withoutDevice(dump));
    const verify = tryRun('sfdisk', ['--verify', ours]);
    assert.equal(verify.status, 0, verify.stderr);
    assert.match(verify.stdout, /No errors detected/);
    assert.doesNotMatch(verify.stdout + verify.stderr, /corrupt|overlap|warning/i);
    const total = readFileSync(ours).length / 512;
    assert.deepEqual(sectors(ours, 0, 34), sectors(theirs, 0, 34), 'PMBR, primary header and entries');
    assert.deepEqual(
      sectors(ours, total - 33, 33),
      sectors(theirs, total - 33, 33),
      'backup entries and header',
    );
  } finally {
    cleanup();
  }
});

test('GPT dump applied to a bigger target uses the bigger target (last-lba at its end)', async () => {
  const { dir, cleanup } = scratchDir();
  try {
    const dump = sfdiskDump(sfdiskImage(dir, 'src.img', 32, GPT_SCRIPT));
    const big = blankImage(dir, 'big.img', 48, Buffer.alloc(0));
    const written = await apply(big, parseSfdiskDump(dump));
    const totalSectors = (48 * 1024 * 1024) / 512;
    assert.equal(written.lastLba, totalSectors - 34);
    const ourDump = sfdiskDump(big);
    assert.match(ourDump, new RegExp(`^last-lba: ${totalSectors - 34}$`, 'm'));
    assert.equal(
      withoutDevice(ourDump).replace(/^last-lba: .*$/m, ''),
      withoutDevice(dump).replace(/^last-lba: .*$/m, ''),
    );
    assert.equal(tryRun('sfdisk', ['--verify', big]).status, 0);
  } finally {
    cleanup();
  }
});

test('a target too small: TARGET_TOO_SMALL before any byte is written (dos and GPT)', async () => {
  const { dir, cleanup } = scratchDir();
  try {
    for (const [script, mib] of [
      [DOS_SCRIPT, 64],
      [GPT_SCRIPT, 32],
    ] as const) {
      const table = parseSfdiskDump(sfdiskDump(sfdiskImage(dir, 'src.img', mib, script)));
      // a target holding an older table and some data: nothing of it may change
      const small = sfdiskImage(
        dir,
        'small.img',
        16,
        'label: dos\nlabel-id: 0x11111111\n\nstart=2048, type=83\n',
      );
      const before = sha256(small);
      await assert.rejects(apply(small, table), (e) => isAtlasError(e, 'TARGET_TOO_SMALL'));
      assert.equal(sha256(small), before);
    }
  } finally {
    cleanup();
  }
});

test('overlapping partitions are refused before writing', async () => {
  const { dir, cleanup } = scratchDir();
  try {
    const img = blankImage(dir, 'x.img', 16, Buffer.alloc(0));
    const before = sha256(img);
    const table = parseSfdiskDump(
      'label: dos\nlabel-id: 0x1\n\nstart=2048, size=4096, type=83\nstart=4096, size=4096, type=83\n',
    );
    await assert.rejects(
      apply(img, table),
      (e) => isAtlasError(e, 'INVALID_ARGUMENT') && /overlap/.test(e.message),
    );
    assert.equal(sha256(img), before);
  } finally {
    cleanup();
  }
});

test('dos over an old GPT: the stale GPT headers are wiped, sfdisk and blkid see dos', async () => {
  const { dir, cleanup } = scratchDir();
  try {
    const img = sfdiskImage(dir, 'x.img', 64, GPT_SCRIPT);
    await apply(img, parseSfdiskDump(DOS_SCRIPT, { totalSectors: 131072 }));
    assert.match(sfdiskDump(img), /^label: dos$/m);
    assert.match(run('blkid', ['-p', '-o', 'value', '-s', 'PTTYPE', img]), /^dos$/m);
    const bytes = readFileSync(img);
    assert.notEqual(bytes.toString('latin1', 512, 520), 'EFI PART');
    assert.notEqual(bytes.toString('latin1', bytes.length - 512, bytes.length - 504), 'EFI PART');
  } finally {
    cleanup();
  }
});

test('growLastPartition then apply: sfdisk shows the last partition ending at the disk end (dos and GPT)', async () => {
  const { dir, cleanup } = scratchDir();
  try {
    for (const [script, mib] of [
      [DOS_SCRIPT, 64],
      [GPT_SCRIPT, 32],
      [LOGICAL_SCRIPT, 32],
    ] as const) {
      const table = parseSfdiskDump(sfdiskDump(sfdiskImage(dir, 'src.img', mib, script)));
      const big = blankImage(dir, 'big.img', mib * 3, Buffer.alloc(0));
      const totalSectors = (mib * 3 * 1024 * 1024) / 512;
      await apply(big, growLastPartition(table, totalSectors));
      const json = JSON.parse(run('sfdisk', ['--json', big])) as {
        partitiontable: { lastlba?: number; partitions: { start: number; size: number }[] };
      };
      const last = json.partitiontable.partitions.reduce((a, b) => (b.start > a.start ? b : a));
      const end = script === GPT_SCRIPT ? totalSectors - 34 : totalSectors - 1;
      assert.equal(last.start + last.size - 1, end, script.slice(0, 20));
      assert.equal(tryRun('sfdisk', ['--verify', big]).status, 0);
      // every other partition is unchanged
      const grown = await read(big);
      for (const p of table.partitions) {
        const q = grown.partitions.find((x) => x.number === p.number)!;
        assert.equal(q.start, p.start);
        if (p.start !== Math.max(...table.partitions.map((x) => x.start)) && !(p.type === '5')) {
          assert.equal(q.size, p.size);
        }
      }
    }
    const table = parseSfdiskDump(DOS_SCRIPT, { totalSectors: 131072 });
    assert.throws(
      () => growLastPartition(table, 1000),
      (e) => isAtlasError(e, 'TARGET_TOO_SMALL'),
    );
  } finally {
    cleanup();
  }
});

for (const [what, script] of [
  ['dos', DOS_SCRIPT],
  ['GPT', GPT_SCRIPT],
] as const) {
  test(
    `apply ${what} to a loop device: sfdisk reads the dump back and the kernel sees the partitions`,
    { skip: !isRoot },
    async () => {
      const { dir, cleanup } = scratchDir();
      try {
        const dump = sfdiskDump(sfdiskImage(dir, 'src.img', 64, script));
        const img = blankImage(dir, 'loop.img', 64, Buffer.alloc(0));
        const loop = attachLoop(img, { partitions: false });
        try {
          const file = await openBlockFile(loop.device, { write: true, exclusive: true });
          try {
            await applyPartitionTable(file, parseSfdiskDump(dump));
          } finally {
            await file.close();
          }
          assert.equal(withoutDevice(sfdiskDump(loop.device)), withoutDevice(dump));
          const dev = await read(loop.device);
          assert.equal(formatSfdiskDump(dev, loop.device), sfdiskDump(loop.device));
          const lsblk = run('lsblk', ['-lno', 'NAME', loop.device]);
          assert.match(lsblk, /p4$/m, 'the kernel re-read the table (partition nodes present)');
        } finally {
          loop.detach();
        }
      } finally {
        cleanup();
      }
    },
  );
}
