/**
 * parseSfdiskDump's defaults and input forms against the real sfdisk: the same script applied by sfdisk and by
 * us (parse with the target size, then apply) must give the same `sfdisk --dump`.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { openBlockFile } from '../../main/engine/io/block-file';
import { applyPartitionTable, parseSfdiskDump } from '../../main/engine/partition';
import { run, scratchDir } from '../support/sh';
import { sfdiskImage } from './partition-fixtures';

const SCRIPTS: [string, number, string][] = [
  [
    'the seed layout, last size open',
    200,
    'label: dos\nlabel-id: 0x1234abcd\nunit: sectors\n\nstart=8192, size=131072, type=c, bootable\nstart=139264, type=83\n',
  ],
  [
    'extended and logical partitions with default starts and KiB/MiB sizes',
    32,
    'label: dos\nlabel-id: 0x1\n\nsize=4MiB, type=c\ntype=5\ntype=83, size=3MiB\ntype=82, size=1000KiB\ntype=83\n',
  ],
  [
    'default starts fill the first free gap; sizes stop at the next partition',
    32,
    'label: dos\nlabel-id: 0x1\n\nstart=20000, size=4000\nsize=1000\nstart=30000, size=100\n type=83\n',
  ],
  [
    'a type 0 slot with a start and size',
    8,
    'label: dos\nlabel-id: 0x5\n\nstart=2048, size=100, type=0\nstart=4096, size=100, type=83\n',
  ],
  ['the short comma form and type shortcuts', 32, 'label: dos\nlabel-id: 0x2\n\n2048,20480,c,*\n,,L\n'],
  [
    'CRLF, comments, indented lines, NAME : prefixes from another disk',
    32,
    'label: dos\r\n# comment\r\nlabel-id: 0x3\r\n\r\n  # indented comment\r\n/dev/mmcblk0p1 : start=2048, size=4096, type=0b\r\n/dev/mmcblk0p3 : start=8192, size=4096, Id=83, bootable\r\n',
  ],
  [
    'GPT with shortcuts, a MiB size and an open last size',
    32,
    'label: gpt\nlabel-id: 6A1B2C3D-0000-4000-8000-00000000ABCD\n\nsize=8MiB, type=U, uuid=11111111-2222-4333-8444-555555555555, name="EFI"\ntype=L, uuid=21111111-2222-4333-8444-555555555555, name="root fs", attrs="GUID:60 RequiredPartiton"\n',
  ],
  [
    'GPT with first-lba and table-length',
    16,
    'label: gpt\nlabel-id: 6A1B2C3D-0000-4000-8000-00000000ABCD\nfirst-lba: 4096\ntable-length: 8\n\n3 : start=4096, size=2048, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, uuid=31111111-2222-4333-8444-555555555555\n',
  ],
  [
    'dos: KiB sizes aligned to the nearest MiB, a start inside the extended partition makes a logical one',
    32,
    'label: dos\nlabel-id: 0x4\n\nstart=2048, size=3000KiB\nsize=5M, type=5\nstart=12288, size=2000\nsize=700K\n',
  ],
  [
    'GPT: a default start goes to the largest free gap',
    32,
    'label: gpt\nlabel-id: 6A1B2C3D-0000-4000-8000-00000000ABCD\n\nstart=30000, size=2048, uuid=41111111-2222-4333-8444-555555555555\nsize=1M, uuid=51111111-2222-4333-8444-555555555555\nsize=1500K, uuid=61111111-2222-4333-8444-555555555555\n',
  ],
];

for (const [what, mib, script] of SCRIPTS) {
  test(`parse defaults like sfdisk: ${what}`, async () => {
    const { dir, cleanup } = scratchDir();
    try {
      sfdiskImage(dir, 'x.img', mib, script);
      const expected = run('sfdisk', ['--dump', 'x.img'], { cwd: dir });
      const ours = join(dir, 'ours.img');
      run('truncate', ['-s', `${mib}M`, ours]);
      const table = parseSfdiskDump(script, { totalSectors: (mib * 1024 * 1024) / 512 });
      const file = await openBlockFile(ours, { write: true });
      try {
        await applyPartitionTable(file, table);
      } finally {
        await file.close();
      }
      assert.equal(
        run('sfdisk', ['--dump', 'ours.img'], { cwd: dir }).replace(/ours\.img/g, 'x.img'),
        expected,
      );
    } finally {
      cleanup();
    }
  });
}
