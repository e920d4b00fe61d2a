/**
 * The vault against real disks: the read-back reads the disk and not the page cache (damage written under a mounted
 * ext4 behind its cache's back is caught), the "is the disk plugged in" check of a /Volumes-style folder (a plain
 * folder of the system disk against a mounted volume), copies that keep a 0600 file 0600, and a vault where the cache
 * cannot be bypassed (ramfs, as on macOS today) reported as such.
 */
import test, { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { vaultSyncJob, vaultVerifyJob } from '../../main/engine/jobs/vault';
import { sha256FromDisk } from '../../main/engine/io/hash';
import { isAtlasError } from '../../main/engine/errors';
import { mountVaultDisk, type VaultDisk } from '../support/vault-disk';
import { isRoot, run, scratchDir, tryRun } from '../support/sh';

const needsRoot = { skip: !isRoot && 'needs root to mount a loop device and a tmpfs' };
const CLONE = 'golden-clone-DISK';
const IMAGE = 'sdc2-root.partclone.gz';
const GOLDEN = 'ods-atlas-golden-v8-1-DISK.img';
const BLOCK = 4096;
const CLI = join(__dirname, '..', '..', 'main', 'cli', 'run.js');

async function rejectsWith(promise: Promise<unknown>, code: string, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(isAtlasError(error), `expected an AtlasError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    assert.match(error.message, pattern);
    return true;
  });
}

/** The byte offset on the device of a file's first block (FIEMAP through filefrag, on the mounted filesystem). */
function firstBlockOffset(path: string): number {
  const out = run('filefrag', ['-v', '-b4096', path]);
  const m = /^\s*0:\s+0\.\.\s*\d+:\s+(\d+)\.\./m.exec(out);
  assert.ok(m, `no first extent in:\n${out}`);
  return Number(m[1]) * BLOCK;
}

/** Overwrites one block of the device under the filesystem, past the page cache of the files on it. */
function damageOnDisk(device: string, offset: number): void {
  run('dd', [
    `if=/dev/zero`,
    `of=${device}`,
    `bs=${BLOCK}`,
    'count=1',
    `seek=${offset / BLOCK}`,
    'oflag=direct',
    'conv=notrunc',
    'status=none',
  ]);
}

describe('the vault on real disks', needsRoot, () => {
  const { dir, cleanup } = scratchDir('atlas-vault-disk-');
  const build = join(dir, 'build');
  let disk: VaultDisk | null = null;
  let mnt = '';

  before(() => {
    mkdirSync(join(build, CLONE), { recursive: true });
    writeFileSync(join(build, CLONE, 'partition-table.dump'), 'label: dos\nunit: sectors\n');
    writeFileSync(join(build, CLONE, IMAGE), randomBytes(3 * 1024 * 1024 + 123));
    writeFileSync(join(build, GOLDEN), randomBytes(2 * 1024 * 1024));
    chmodSync(join(build, GOLDEN), 0o600); // a golden image holds the secrets
    disk = mountVaultDisk(dir, { mib: 64, blockSize: BLOCK });
    mnt = disk.mnt;
  });
  after(() => {
    tryRun('umount', [join(dir, 'data', 'Volumes', 'NVME_VAULT')]);
    tryRun('umount', [join(dir, 'data')]);
    disk?.remove();
    cleanup();
  });

  test('a file read back from the disk: damage the page cache hides is seen', async () => {
    const file = join(mnt, 'cached.bin');
    const bytes = randomBytes(256 * 1024);
    writeFileSync(file, bytes);
    run('sync', []);
    const clean = await sha256FromDisk(file);
    assert.equal(clean.fromDisk, true, 'O_DIRECT on ext4');
    damageOnDisk(disk!.device, firstBlockOffset(file));
    // a plain read still gets the cached, undamaged bytes; the read-back does not
    assert.ok(readFileSync(file).equals(bytes), 'the page cache still holds the good bytes');
    const damaged = await sha256FromDisk(file);
    assert.notEqual(damaged.sha256, clean.sha256);
    assert.equal(damaged.bytes, bytes.length);
  });

  test('sync: a copy damaged on the disk right after it was written is refused, nothing renamed into place', async () => {
    const vault = disk!.vault;
    let damaged = false;
    await rejectsWith(
      vaultSyncJob(
        { from: build, to: vault, items: [CLONE] },
        {
          onProgress: (p) => {
            if (damaged || p.detail !== `verifying ${CLONE}/${IMAGE}`) return;
            const copy = join(vault, `${CLONE}.partial`, IMAGE);
            damageOnDisk(disk!.device, firstBlockOffset(copy));
            assert.ok(
              readFileSync(copy).equals(readFileSync(join(build, CLONE, IMAGE))),
              'cached copy looks fine',
            );
            damaged = true;
          },
        },
      ),
      'VERIFY_MISMATCH',
      /read back from the vault does not match .*the vault disk may be failing/,
    );
    assert.equal(damaged, true);
    assert.deepEqual(readdirSync(vault), [], 'no partial left, nothing renamed into place');

    // undamaged, the same sync goes through, every file read from the disk
    const result = await vaultSyncJob({ from: build, to: vault });
    assert.equal(result.copied, 2);
    for (const item of result.items) {
      assert.ok(
        item.files.every((f) => f.readFromDisk === true),
        `${item.name} read back from the disk`,
      );
    }
    // vault verify reads the disk too: damage behind the cache is reported
    damageOnDisk(disk!.device, firstBlockOffset(join(vault, GOLDEN)));
    const report = await vaultVerifyJob({ folder: vault });
    assert.deepEqual(
      report.artifacts.map((a) => [a.name, a.status]),
      [
        [CLONE, 'ok'],
        [GOLDEN, 'damaged'],
      ],
    );
  });

  test('copies keep the source mode: the 0600 golden image stays 0600, the clone folder keeps its own', async () => {
    const vault = join(mnt, 'modes');
    mkdirSync(vault);
    chmodSync(join(build, CLONE), 0o750);
    chmodSync(join(build, CLONE, IMAGE), 0o640);
    await vaultSyncJob({ from: build, to: vault });
    const mode = (path: string): number => statSync(path).mode & 0o7777;
    assert.equal(mode(join(vault, GOLDEN)), 0o600);
    assert.equal(mode(join(vault, CLONE)), 0o750);
    assert.equal(mode(join(vault, CLONE, IMAGE)), 0o640);
    assert.equal(
      mode(join(vault, CLONE, 'partition-table.dump')),
      mode(join(build, CLONE, 'partition-table.dump')),
    );
  });

  test('a vault without direct I/O (ramfs): the result and the CLI say the read-back went through the cache', async () => {
    const ram = join(dir, 'ram');
    mkdirSync(ram);
    run('mount', ['-t', 'ramfs', 'ramfs', ram]);
    try {
      // ramfs reports no free space: the build folder shares it, so no room check applies
      const from = join(ram, 'build');
      const vault = join(ram, 'vault');
      mkdirSync(from);
      mkdirSync(vault);
      writeFileSync(join(from, GOLDEN), readFileSync(join(build, GOLDEN)));
      const cli = spawnSync(process.execPath, [CLI, 'vault', 'sync', '--from', from, '--to', vault], {
        encoding: 'utf8',
      });
      assert.equal(cli.status, 0, cli.stderr);
      assert.match(cli.stdout, /Read back through the system cache/);
      rmSync(join(vault, GOLDEN));
      rmSync(join(vault, GOLDEN.replace(/\.img$/, '.sha256')));
      const result = await vaultSyncJob({ from, to: vault });
      assert.deepEqual(
        result.items.flatMap((i) => i.files.map((f) => [f.name, f.readFromDisk])),
        [[GOLDEN, false]],
      );
    } finally {
      tryRun('umount', [ram]);
    }
  });

  test('a /Volumes folder: a plain folder of the system disk is refused, the mounted volume is the vault', async () => {
    // as on APFS: /Volumes lives on a filesystem other than /'s (the Data volume), so comparing with / proves nothing
    const data = join(dir, 'data');
    mkdirSync(data);
    run('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', data]);
    const volumes = join(data, 'Volumes');
    assert.notEqual(statSync(data).dev, statSync('/').dev);
    const vault = join(volumes, 'NVME_VAULT', 'golden-atlas-img');
    // the disk away: a folder left on the system disk under its name
    mkdirSync(vault, { recursive: true });
    await rejectsWith(
      vaultSyncJob({ from: build, to: vault, volumesRoot: volumes }),
      'VAULT_UNAVAILABLE',
      /is a folder on the system disk, not on the NVME_VAULT volume: is the NVME_VAULT disk plugged in\?/,
    );
    await rejectsWith(
      vaultVerifyJob({ folder: vault, volumesRoot: volumes }),
      'VAULT_UNAVAILABLE',
      /not on the NVME_VAULT volume/,
    );
    assert.deepEqual(readdirSync(vault), [], 'nothing written on the system disk');
    // the disk plugged in: a filesystem of its own mounted there
    run('mount', ['-t', 'tmpfs', '-o', 'size=32m', 'tmpfs', join(volumes, 'NVME_VAULT')]);
    try {
      mkdirSync(vault);
      const result = await vaultSyncJob({ from: build, to: vault, volumesRoot: volumes, items: [CLONE] });
      assert.equal(result.copied, 1);
      assert.ok(existsSync(join(vault, CLONE, IMAGE)));
    } finally {
      tryRun('umount', [join(volumes, 'NVME_VAULT')]);
    }
    // a missing volume folder, as when nothing was ever written there
    await rejectsWith(
      vaultSyncJob({ from: build, to: join(volumes, 'OTHER', 'vault'), volumesRoot: volumes }),
      'VAULT_UNAVAILABLE',
      /is not there: is the OTHER disk plugged in\?/,
    );
  });
});
