/**
 * Phase 1 end to end, with the real tools as the oracle: our clone restored by partclone + pigz, real
 * partclone folders restored by us, restore_golden.sh, growing root, and every refusal.
 */
import test, { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cloneJob } from '../../main/engine/jobs/clone';
import { restoreJob } from '../../main/engine/jobs/restore';
import { verifyCloneFolder } from '../../main/engine/jobs/verify';
import { rejectsWith, sha256sum, flipBits } from '../support/assert';
import { attachLoop, type LoopDevice } from '../support/loop';
import { makeArmbianImage } from '../support/armbian';
import { run, scratchDir, shell, tryRun } from '../support/sh';
import { localCardAccess } from '../../main/engine/drives/index';

/** The content of the ext4 root of an image file (partition 2 of the fixture's layout), read with debugfs. */
function catRoot(device: string, path: string): string {
  return run('debugfs', ['-R', `cat ${path}`, device]);
}

describe('clone and restore', () => {
  const { dir, cleanup } = scratchDir('atlas-clone-');
  let loop: LoopDevice;
  let folder: string;
  const source = join(dir, 'source.img');

  before(async () => {
    makeArmbianImage(source, { imgMib: 256, extraMib: 24 });
    loop = attachLoop(source);
    const result = await cloneJob({
      source: loop.device,
      outDir: dir,
      tag: 'v1-0-TEST',
      access: localCardAccess(),
    });
    folder = result.folder;
  });
  after(() => {
    loop?.detach();
    cleanup();
  });

  test('the folder has the seed layout and a manifest of every file', () => {
    const name = loop.device.replace('/dev/', '');
    assert.equal(folder, join(dir, 'golden-clone-v1-0-TEST'));
    assert.deepEqual(readdirSync(folder).sort(), [
      'atlas-manifest.json',
      `${name}p1-boot.partclone.gz`,
      `${name}p2-root.partclone.gz`,
      'partition-table.dump',
      'restore_golden.sh',
    ]);
    const manifest = JSON.parse(readFileSync(join(folder, 'atlas-manifest.json'), 'utf8'));
    assert.equal(manifest.phase, 1);
    assert.equal(manifest.tag, 'v1-0-TEST');
    for (const file of manifest.files) {
      assert.equal(sha256sum(join(folder, file.name)), file.sha256, file.name);
      assert.equal(statSync(join(folder, file.name)).size, file.size);
    }
    assert.equal(statSync(join(folder, 'restore_golden.sh')).mode & 0o777, 0o755);
    assert.equal(readdirSync(dir).filter((f) => f.endsWith('.partial')).length, 0);
  });

  test('partition-table.dump equals sfdisk --dump of the source', () => {
    assert.equal(
      readFileSync(join(folder, 'partition-table.dump'), 'utf8'),
      run('sfdisk', ['--dump', loop.device]),
    );
  });

  test('the gunzipped images equal what partclone makes of the same partitions', () => {
    const name = loop.device.replace('/dev/', '');
    for (const [k, role, tool] of [
      [1, 'boot', 'fat32'],
      [2, 'root', 'ext4'],
    ] as const) {
      const ours = join(dir, `ours-${k}.pc`);
      const theirs = join(dir, `theirs-${k}.pc`);
      shell(`pigz -dc '${folder}/${name}p${k}-${role}.partclone.gz' > '${ours}'`);
      run(`partclone.${tool}`, ['-c', '-s', loop.partition(k), '-o', theirs, '-L', join(dir, 'log')]);
      assert.equal(
        tryRun('cmp', [ours, theirs]).status,
        0,
        `partition ${k}: our image differs from partclone's`,
      );
    }
  });

  test('real pigz + partclone restore our clone: fsck clean, every byte equal', () => {
    const name = loop.device.replace('/dev/', '');
    const target = join(dir, 'by-partclone.img');
    run('truncate', ['-s', '256M', target]);
    run('sfdisk', ['-q', target], { input: readFileSync(join(folder, 'partition-table.dump')) });
    const t = attachLoop(target);
    try {
      shell(
        `pigz -dc '${folder}/${name}p1-boot.partclone.gz' | partclone.fat32 -r -s - -o ${t.partition(1)} -L ${dir}/log`,
      );
      shell(
        `pigz -dc '${folder}/${name}p2-root.partclone.gz' | partclone.ext4 -r -s - -o ${t.partition(2)} -L ${dir}/log`,
      );
      run('e2fsck', ['-fn', t.partition(2)]);
      run('fsck.vfat', ['-n', t.partition(1)]);
    } finally {
      t.detach();
    }
    // the source's free blocks are zero (a fresh sparse image), so the whole disks are equal
    assert.equal(tryRun('cmp', [source, target]).status, 0);
  });

  test('atlas verify accepts the folder', async () => {
    const result = await verifyCloneFolder(folder);
    assert.equal(result.images.length, 2);
    assert.equal(result.manifest?.tag, 'v1-0-TEST');
  });

  test('our restore onto an image file of the same size gives the source back', async () => {
    const target = join(dir, 'restored-same.img');
    run('truncate', ['-s', '256M', target]);
    const result = await restoreJob({
      folder,
      targets: [{ device: target }],
      intent: 'exact',
      grow: false,
      access: localCardAccess(),
    });
    assert.equal(result.manifestChecked, true);
    assert.equal(tryRun('cmp', [source, target]).status, 0);
  });

  test('where root cannot be grown here, it is grown at first boot, written through the open target', async () => {
    const target = join(dir, 'first-boot.img');
    run('truncate', ['-s', '512M', target]);
    // a worker's access: the broker said growing is not possible (no resize2fs in root's folders)
    const access = { ...localCardAccess(), growExt4: async () => false };
    const result = await restoreJob({ folder, targets: [{ device: target }], intent: 'exact', access });
    assert.equal(result.targets[0]!.grow, 'at-first-boot', result.targets[0]!.growMessage);
    const t = attachLoop(target);
    try {
      run('e2fsck', ['-fn', t.partition(2)]);
      const wants = run('debugfs', ['-R', 'ls /etc/systemd/system/basic.target.wants', t.partition(2)]);
      assert.match(wants, /armbian-resize-filesystem\.service/);
    } finally {
      t.detach();
    }
  });

  test('restore onto a bigger card grows root: fsck clean, filesystem within 1% of the partition', async () => {
    const target = join(dir, 'bigger.img');
    run('truncate', ['-s', '512M', target]);
    const t = attachLoop(target, { partitions: false });
    try {
      const result = await restoreJob({
        folder,
        targets: [{ device: t.device }],
        intent: 'exact',
        access: localCardAccess(),
      });
      assert.equal(result.targets[0]!.grow, 'resized', result.targets[0]!.growMessage);
      const dump = run('sfdisk', ['--dump', t.device]);
      const last = /p2 : start=\s*(\d+), size=\s*(\d+)/.exec(dump);
      assert.ok(last, dump);
      const partBytes = Number(last[2]) * 512;
      assert.equal(
        (Number(last[1]) + Number(last[2])) * 512,
        512 * 1024 * 1024,
        'the last partition ends at the card end',
      );
      t.detach();
      const p2 = attachLoop(target);
      try {
        run('e2fsck', ['-fn', p2.partition(2)]);
        run('fsck.vfat', ['-n', p2.partition(1)]);
        const info = run('dumpe2fs', ['-h', p2.partition(2)]);
        const blocks = Number(/Block count:\s+(\d+)/.exec(info)![1]);
        const blockSize = Number(/Block size:\s+(\d+)/.exec(info)![1]);
        assert.ok(
          blocks * blockSize >= partBytes * 0.99,
          `fs ${blocks * blockSize} vs partition ${partBytes}`,
        );
        assert.equal(
          catRoot(p2.partition(2), '/var/lib/atlas-test/numbers.txt'),
          catRoot(loop.partition(2), '/var/lib/atlas-test/numbers.txt'),
        );
      } finally {
        p2.detach();
      }
    } finally {
      t.detach();
    }
  });

  test('restore_golden.sh from the folder restores a loop device and grows root', () => {
    const target = join(dir, 'by-script.img');
    run('truncate', ['-s', '384M', target]);
    const t = attachLoop(target, { partitions: false });
    try {
      run('bash', [join(folder, 'restore_golden.sh'), t.device, '--yes']);
      run('partx', ['-u', t.device]);
      tryRun('partx', ['-a', t.device]);
      run('e2fsck', ['-fn', t.partition(2)]);
      run('fsck.vfat', ['-n', t.partition(1)]);
      const info = run('dumpe2fs', ['-h', t.partition(2)]);
      const bytes =
        Number(/Block count:\s+(\d+)/.exec(info)![1]) * Number(/Block size:\s+(\d+)/.exec(info)![1]);
      assert.ok(bytes > 300 * 1024 * 1024, `root was not grown: ${bytes}`);
      assert.equal(
        catRoot(t.partition(2), '/var/lib/atlas-test/numbers.txt'),
        catRoot(loop.partition(2), '/var/lib/atlas-test/numbers.txt'),
      );
    } finally {
      t.detach();
    }
  });

  test('a target too small is refused before anything is written', async () => {
    const target = join(dir, 'small.img');
    run('truncate', ['-s', '128M', target]);
    shell(`head -c 1048576 /dev/urandom | dd of='${target}' conv=notrunc status=none`);
    const before = sha256sum(target);
    await rejectsWith(
      restoreJob({ folder, targets: [{ device: target }], intent: 'exact', access: localCardAccess() }),
      'TARGET_TOO_SMALL',
      /holds 128(\.0)? MiB; this clone needs \d+(\.\d+)? [MG]iB\. Use a larger card\./,
    );
    assert.equal(sha256sum(target), before);
  });

  test('a damaged file is caught by the manifest before anything is written', async () => {
    const bad = join(dir, 'golden-clone-damaged');
    mkdirSync(bad);
    for (const f of readdirSync(folder)) copyFileSync(join(folder, f), join(bad, f));
    const gz = readdirSync(bad).find((f) => f.includes('root'))!;
    const bytes = readFileSync(join(bad, gz));
    flipBits(bytes, Math.floor(bytes.length / 2));
    writeFileSync(join(bad, gz), bytes);
    const target = join(dir, 'untouched.img');
    run('truncate', ['-s', '256M', target]);
    const before = sha256sum(target);
    await rejectsWith(
      restoreJob({ folder: bad, targets: [{ device: target }], intent: 'exact', access: localCardAccess() }),
      'MANIFEST_MISMATCH',
      new RegExp(gz),
    );
    await rejectsWith(verifyCloneFolder(bad), 'MANIFEST_MISMATCH', new RegExp(gz));
    assert.equal(sha256sum(target), before);
  });

  test('a mounted source is refused, and the folder does not appear', async () => {
    const mnt = join(dir, 'mnt');
    mkdirSync(mnt);
    run('mount', ['-o', 'ro', loop.partition(2), mnt]);
    try {
      await rejectsWith(
        cloneJob({ source: loop.device, outDir: dir, tag: 'mounted', access: localCardAccess() }),
        'SOURCE_MOUNTED',
        /--unmount/,
      );
      assert.ok(!readdirSync(dir).some((f) => f.includes('mounted')));
      // asked to, the clone unmounts it first and proceeds
      const result = await cloneJob({
        source: loop.device,
        outDir: dir,
        tag: 'unmounted',
        access: localCardAccess({ unmount: true }),
      });
      assert.notEqual(tryRun('mountpoint', ['-q', mnt]).status, 0, 'the partition is still mounted');
      assert.equal((await verifyCloneFolder(result.folder)).images.length, 2);
    } finally {
      tryRun('umount', [mnt]);
    }
  });

  test('an existing clone folder is never overwritten', async () => {
    await rejectsWith(
      cloneJob({ source: loop.device, outDir: dir, tag: 'v1-0-TEST', access: localCardAccess() }),
      'ALREADY_EXISTS',
      /already exists/,
    );
  });
});
