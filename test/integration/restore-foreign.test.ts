/**
 * Restore of folders the team's shell commands made (real sfdisk + partclone + pigz, no manifest), and the
 * damaged inputs a vault can hold: each refused with a clear message, and the target untouched whenever the
 * fault can be known before writing.
 */
import test, { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { restoreJob } from '../../main/engine/jobs/restore';
import { verifyCloneFolder } from '../../main/engine/jobs/verify';
import { rejectsWith, sha256sum, flipBits } from '../support/assert';
import { attachLoop, type LoopDevice } from '../support/loop';
import { makeArmbianImage } from '../support/armbian';
import { run, scratchDir, shell, tryRun } from '../support/sh';
import { localCardAccess } from '../../main/engine/drives/index';

const CLI = join(__dirname, '..', '..', 'main', 'cli', 'run.js');

describe('restoring folders made by partclone + pigz', () => {
  const { dir, cleanup } = scratchDir('atlas-foreign-');
  const source = join(dir, 'source.img');
  let loop: LoopDevice;
  const folder = join(dir, 'golden-clone-SHELL');

  /** A copy of the shell-made folder with one change, for the bad-input cases. */
  function damagedCopy(name: string, change: (folder: string) => void): string {
    const copy = join(dir, name);
    mkdirSync(copy);
    for (const f of readdirSync(folder)) copyFileSync(join(folder, f), join(copy, f));
    change(copy);
    return copy;
  }

  /** A fresh target with recognisable content, and its hash. */
  function freshTarget(name: string): { path: string; hash: string } {
    const path = join(dir, name);
    run('truncate', ['-s', '256M', path]);
    shell(`head -c 2097152 /dev/urandom | dd of='${path}' conv=notrunc status=none`);
    return { path, hash: sha256sum(path) };
  }

  before(() => {
    makeArmbianImage(source, { extraMib: 12 });
    loop = attachLoop(source);
    // exactly the seed's Phase 1 commands, with sdc standing for the card
    mkdirSync(folder);
    shell(`sfdisk --dump ${loop.device} > '${folder}/partition-table.dump'`);
    shell(
      `partclone.fat32 -c -s ${loop.partition(1)} -L ${dir}/log | pigz > '${folder}/sdc1-boot.partclone.gz'`,
    );
    shell(
      `partclone.ext4 -c -s ${loop.partition(2)} -L ${dir}/log | pigz > '${folder}/sdc2-root.partclone.gz'`,
    );
  });
  after(() => {
    loop?.detach();
    cleanup();
  });

  test('our restore of a shell-made folder gives the source back, fsck clean', async () => {
    const target = join(dir, 'restored.img');
    run('truncate', ['-s', '256M', target]);
    const result = await restoreJob({
      folder,
      targets: [{ device: target }],
      intent: 'exact',
      grow: false,
      access: localCardAccess(),
    });
    assert.equal(result.manifestChecked, false);
    assert.equal(tryRun('cmp', [source, target]).status, 0);
    const t = attachLoop(target);
    try {
      run('e2fsck', ['-fn', t.partition(2)]);
      run('fsck.vfat', ['-n', t.partition(1)]);
    } finally {
      t.detach();
    }
  });

  test('verify checks every partclone checksum of a folder without a manifest', async () => {
    const result = await verifyCloneFolder(folder);
    assert.equal(result.manifest, null);
    assert.deepEqual(
      result.images.map((i) => i.filesystem),
      ['FAT32', 'EXTFS'],
    );
  });

  test('a truncated .gz is refused before writing', async () => {
    const bad = damagedCopy('golden-clone-TRUNC', (f) => {
      const gz = readFileSync(join(f, 'sdc2-root.partclone.gz'));
      writeFileSync(join(f, 'sdc2-root.partclone.gz'), gz.subarray(0, 40));
    });
    const t = freshTarget('t-trunc.img');
    await rejectsWith(
      restoreJob({ folder: bad, targets: [{ device: t.path }], intent: 'exact', access: localCardAccess() }),
      'TRUNCATED',
      /sdc2-root\.partclone\.gz/,
    );
    assert.equal(sha256sum(t.path), t.hash);
  });

  test('a byte flipped in a data block: the message names the block', async () => {
    const bad = damagedCopy('golden-clone-FLIP', (f) => {
      const raw = join(dir, 'flip.pc');
      shell(`pigz -dc '${f}/sdc2-root.partclone.gz' > '${raw}'`);
      const bytes = readFileSync(raw);
      flipBits(bytes, bytes.length - 5000, 0x01); // inside the last data group
      writeFileSync(raw, bytes);
      shell(`pigz -c '${raw}' > '${f}/sdc2-root.partclone.gz'`);
    });
    await rejectsWith(verifyCloneFolder(bad), 'CHECKSUM_MISMATCH', /sdc2-root.*block \d+/);
    const t = freshTarget('t-flip.img');
    await rejectsWith(
      restoreJob({ folder: bad, targets: [{ device: t.path }], intent: 'exact', access: localCardAccess() }),
      'CHECKSUM_MISMATCH',
      /block \d+/,
    );
  });

  test('wrong magic, a bad header CRC and a bad bitmap CRC are refused before writing', async () => {
    const cases: Array<[string, number, string]> = [
      ['MAGIC', 0, 'BAD_MAGIC'],
      ['HEADER', 60, 'BAD_HEADER'],
      ['BITMAP', 200, 'BAD_BITMAP'],
    ];
    for (const [name, offset, code] of cases) {
      const bad = damagedCopy(`golden-clone-${name}`, (f) => {
        const raw = join(dir, `${name}.pc`);
        shell(`pigz -dc '${f}/sdc1-boot.partclone.gz' > '${raw}'`);
        const bytes = readFileSync(raw);
        flipBits(bytes, offset, 0x40);
        writeFileSync(raw, bytes);
        shell(`pigz -c '${raw}' > '${f}/sdc1-boot.partclone.gz'`);
      });
      const t = freshTarget(`t-${name}.img`);
      await rejectsWith(
        restoreJob({
          folder: bad,
          targets: [{ device: t.path }],
          intent: 'exact',
          access: localCardAccess(),
        }),
        code,
        /sdc1-boot\.partclone\.gz/,
      );
      assert.equal(sha256sum(t.path), t.hash, `${name}: the target was written`);
    }
  });

  test('a malformed dump is refused before writing, naming the line', async () => {
    const bad = damagedCopy('golden-clone-DUMP', (f) => {
      const text = readFileSync(join(f, 'partition-table.dump'), 'utf8');
      writeFileSync(join(f, 'partition-table.dump'), text.replace('start=', 'strat='));
    });
    const t = freshTarget('t-dump.img');
    await rejectsWith(
      restoreJob({ folder: bad, targets: [{ device: t.path }], intent: 'exact', access: localCardAccess() }),
      'MALFORMED_DUMP',
      /line \d+/,
    );
    assert.equal(sha256sum(t.path), t.hash);
  });

  test('the CLI: a clear message and a non-zero exit; no confirmation without a TTY and without --yes', () => {
    const t = freshTarget('t-cli.img');
    const refused = spawnSync(process.execPath, [CLI, 'restore', folder, t.path], { encoding: 'utf8' });
    assert.notEqual(refused.status, 0);
    assert.match(refused.stderr, /--yes/);
    assert.equal(sha256sum(t.path), t.hash);

    const bad = join(dir, 'golden-clone-TRUNC');
    const failed = spawnSync(process.execPath, [CLI, 'restore', bad, t.path, '--yes', '--json'], {
      encoding: 'utf8',
    });
    assert.equal(failed.status, 1);
    const last = JSON.parse(failed.stdout.trim().split('\n').at(-1)!);
    assert.equal(last.type, 'error');
    assert.equal(last.code, 'TRUNCATED');
    assert.equal(sha256sum(t.path), t.hash);

    const ok = spawnSync(process.execPath, [CLI, 'restore', folder, t.path, '--yes', '--no-grow', '--json'], {
      encoding: 'utf8',
    });
    assert.equal(ok.status, 0, ok.stderr);
    const lines = ok.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.ok(lines.some((l) => l.type === 'progress' && l.bytesTotal > 0));
    assert.equal(lines.at(-1).type, 'result');
    const verified = spawnSync(process.execPath, [CLI, 'verify', folder], { encoding: 'utf8' });
    assert.equal(verified.status, 0, verified.stderr);
    assert.match(verified.stdout, /OK/);
  });
});
