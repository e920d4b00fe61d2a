/**
 * The vault: a build folder holding a real clone folder (cloneJob on the Armbian fixture), a clone folder as the
 * shell commands make it (no manifest) and a real golden image with its sidecar (insertJob) → vault sync, checked
 * with sha256sum, `sha256sum -c` and verifyCloneFolder; then every refusal and the interrupted copy.
 */
import test, { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  readdirSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
  writeSync,
  closeSync,
} from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { cloneJob } from '../../main/engine/jobs/clone';
import { localCardAccess } from '../../main/engine/drives/index';
import { insertJob } from '../../main/engine/jobs/insert';
import { verifyCloneFolder } from '../../main/engine/jobs/verify';
import { restoreJob } from '../../main/engine/jobs/restore';
import { vaultSyncJob, vaultVerifyJob } from '../../main/engine/jobs/vault';
import { listArtifacts } from '../../main/engine/library/catalog';
import { isAtlasError } from '../../main/engine/errors';
import type { Progress } from '../../main/engine/progress';
import type { JobLogEntry } from '../../main/contract';
import { makeArmbianImage } from '../support/armbian';
import { isRoot, run, scratchDir } from '../support/sh';
import { mountVaultDisk } from '../support/vault-disk';

const CLI = join(__dirname, '..', '..', 'main', 'cli', 'run.js');
const sha256 = (path: string): string => run('sha256sum', [path]).split(' ')[0]!;

async function rejectsWith(promise: Promise<unknown>, code: string, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(isAtlasError(error), `expected an AtlasError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    assert.match(error.message, pattern);
    return true;
  });
}

/** Every file under a folder (relative path → sha256), to prove a folder was left exactly as it was. */
function tree(folder: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (dir: string, prefix: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path, `${prefix}${name}/`);
      else out[`${prefix}${name}`] = `${sha256(path)} ${statSync(path).mtimeMs}`;
    }
  };
  walk(folder, '');
  return out;
}

/** Flips one byte in place, keeping the size (and, if asked, the modification time). */
function flipByte(path: string, offset: number, keepTime = false): void {
  const st = statSync(path);
  const fd = openSync(path, 'r+');
  const b = Buffer.alloc(1);
  readSync(fd, b, 0, 1, offset);
  b[0] = b[0]! ^ 0xff;
  writeSync(fd, b, 0, 1, offset);
  closeSync(fd);
  if (keepTime) utimesSync(path, st.atime, st.mtime);
}

const CLONE = 'golden-clone-v1-0-VAULT';
const SHELL_CLONE = 'golden-clone-SHELL';
const GOLDEN = 'ods-atlas-golden-v1-0-VAULT.img';
const SIDECAR = 'ods-atlas-golden-v1-0-VAULT.manifest.json';
const GOLDEN_SUMS = 'ods-atlas-golden-v1-0-VAULT.sha256';

describe('vault sync and verify', () => {
  const { dir, cleanup } = scratchDir('atlas-vault-');
  const build = join(dir, 'build');
  const vault = join(dir, 'vault');
  let cloneImage = '';

  before(async () => {
    mkdirSync(build);
    mkdirSync(vault);
    const base = join(dir, 'Armbian_26.2.1_Rpi4b_trixie_current_6.18.9_minimal.img');
    makeArmbianImage(base, { imgMib: 192, extraMib: 16 });
    await cloneJob({ source: base, outDir: build, tag: 'v1-0-VAULT', access: localCardAccess() });
    // a clone folder as the seed's shell commands make it: no atlas-manifest.json
    mkdirSync(join(build, SHELL_CLONE));
    for (const name of readdirSync(join(build, CLONE))) {
      if (name !== 'atlas-manifest.json') cpSync(join(build, CLONE, name), join(build, SHELL_CLONE, name));
    }
    cloneImage = readdirSync(join(build, CLONE)).find((n) => n.endsWith('-root.partclone.gz'))!;
    const input = (name: string, text: string, mode: number): string => {
      const path = join(dir, name);
      writeFileSync(path, text);
      chmodSync(path, mode);
      return path;
    };
    await insertJob({
      base,
      firstboot: input('atlas_firstboot.sh', '#!/bin/bash\necho atlas\n', 0o755),
      service: input(
        'atlas-firstboot.service',
        '[Unit]\nDescription=Atlas\n[Service]\nType=oneshot\nExecStart=/usr/local/sbin/atlas_firstboot.sh\n[Install]\nWantedBy=multi-user.target\n',
        0o644,
      ),
      secrets: input('atlas_secrets.conf', 'TOKEN=vault-test\n', 0o600),
      version: 1,
      patch: 0,
      tag: 'VAULT',
      outDir: build,
    });
    // an unfinished clone in the build folder is not an artifact
    mkdirSync(join(build, 'golden-clone-BROKEN.partial'));
    writeFileSync(join(build, 'golden-clone-BROKEN.partial', 'partition-table.dump'), 'label: dos\n');
  });
  after(() => cleanup());

  test('the catalog lists the three artifacts with their facts, not the partial', async () => {
    const catalog = await listArtifacts(build);
    assert.deepEqual(catalog.artifacts.map((a) => a.name).sort(), [CLONE, SHELL_CLONE, GOLDEN].sort());
    assert.deepEqual(catalog.partials, ['golden-clone-BROKEN.partial']);
    const byName = Object.fromEntries(catalog.artifacts.map((a) => [a.name, a]));
    assert.equal(byName[GOLDEN]!.phase, 0);
    assert.equal(byName[GOLDEN]!.tag, 'VAULT');
    assert.deepEqual(byName[GOLDEN]!.version, { version: 1, patch: 0 });
    assert.equal(byName[GOLDEN]!.hasManifest, true);
    assert.equal(byName[GOLDEN]!.manifestFile, SIDECAR);
    assert.equal(byName[GOLDEN]!.size, statSync(join(build, GOLDEN)).size);
    assert.equal(
      byName[GOLDEN]!.created,
      new Date(JSON.parse(readFileSync(join(build, SIDECAR), 'utf8')).created).toISOString(),
    );
    assert.equal(byName[CLONE]!.phase, 1);
    assert.equal(byName[CLONE]!.tag, 'v1-0-VAULT');
    assert.equal(byName[CLONE]!.hasManifest, true);
    assert.equal(byName[SHELL_CLONE]!.hasManifest, false);
    assert.equal(byName[SHELL_CLONE]!.tag, 'SHELL');
    const du = readdirSync(join(build, CLONE)).reduce((s, n) => s + statSync(join(build, CLONE, n)).size, 0);
    assert.equal(byName[CLONE]!.size, du);
    assert.equal(byName[CLONE]!.files.length, 5);
  });

  test('a dry run reports the three copies and writes nothing', async () => {
    const result = await vaultSyncJob({ from: build, to: vault, dryRun: true });
    assert.deepEqual(
      result.items.map((i) => [i.name, i.action]),
      [
        [SHELL_CLONE, 'would-copy'],
        [CLONE, 'would-copy'],
        [GOLDEN, 'would-copy'],
      ],
    );
    assert.deepEqual(readdirSync(vault), []);
  });

  test('sync copies every artifact; the copies equal the sources and verify', async () => {
    const events: Progress[] = [];
    const result = await vaultSyncJob({ from: build, to: vault }, { onProgress: (p) => events.push(p) });
    assert.equal(result.copied, 3);
    assert.deepEqual(readdirSync(vault).sort(), [SHELL_CLONE, CLONE, GOLDEN, SIDECAR, GOLDEN_SUMS].sort());
    for (const folder of [CLONE, SHELL_CLONE]) {
      for (const name of readdirSync(join(build, folder))) {
        assert.equal(
          sha256(join(vault, folder, name)),
          sha256(join(build, folder, name)),
          `${folder}/${name}`,
        );
        assert.equal(statSync(join(vault, folder, name)).mode, statSync(join(build, folder, name)).mode);
      }
    }
    assert.equal(sha256(join(vault, GOLDEN)), sha256(join(build, GOLDEN)));
    assert.equal(sha256(join(vault, SIDECAR)), sha256(join(build, SIDECAR)));
    // the manifested clone needs no checksum file; the shell's clone and the golden image get one, sha256sum -c reads it
    assert.equal(existsSync(join(vault, CLONE, 'SHA256SUMS')), false);
    run('sha256sum', ['-c', 'SHA256SUMS'], { cwd: join(vault, SHELL_CLONE) });
    assert.match(run('sha256sum', ['-c', GOLDEN_SUMS], { cwd: vault }), new RegExp(`${GOLDEN}: OK`));
    const byName = Object.fromEntries(result.items.map((i) => [i.name, i]));
    assert.ok(
      byName[CLONE]!.files.every(
        (f) => f.reference === (f.name === 'atlas-manifest.json' ? 'copy' : 'manifest'),
      ),
    );
    assert.ok(byName[SHELL_CLONE]!.files.every((f) => f.reference === 'copy'));
    const verified = await verifyCloneFolder(join(vault, CLONE));
    assert.equal(verified.manifest?.tag, 'v1-0-VAULT');
    await verifyCloneFolder(join(vault, SHELL_CLONE));
    assert.ok(events.some((e) => e.detail === `copying ${CLONE}/${cloneImage}`));
    assert.ok(events.some((e) => e.detail === `verifying ${GOLDEN}`));
    assert.equal(events.at(-1)!.bytesDone, events.at(-1)!.bytesTotal);
  });

  test('a second sync copies nothing and touches nothing', async () => {
    const before = tree(vault);
    const quick = await vaultSyncJob({ from: build, to: vault });
    assert.equal(quick.copied, 0);
    assert.equal(quick.identical, 3);
    const thorough = await vaultSyncJob({ from: build, to: vault, checksum: true });
    assert.equal(thorough.identical, 3);
    assert.deepEqual(tree(vault), before);
  });

  test('files macOS writes (._NAME, .DS_Store) on both sides: no conflict, verify and restore still pass', async () => {
    const appleDouble = Buffer.concat([Buffer.from([0, 5, 0x16, 7, 0, 2, 0, 0]), Buffer.alloc(4088)]);
    for (const folder of [join(build, CLONE), join(vault, CLONE), join(vault, SHELL_CLONE)]) {
      for (const name of readdirSync(folder)) writeFileSync(join(folder, `._${name}`), appleDouble);
      writeFileSync(join(folder, '.DS_Store'), Buffer.alloc(6148, 1));
    }
    writeFileSync(join(vault, `._${GOLDEN}`), appleDouble);
    writeFileSync(join(vault, '.DS_Store'), Buffer.alloc(6148, 1));
    const before = tree(vault);
    const catalog = await listArtifacts(vault);
    assert.deepEqual(catalog.artifacts.map((a) => a.name).sort(), [CLONE, SHELL_CLONE, GOLDEN].sort());
    const sync = await vaultSyncJob({ from: build, to: vault, checksum: true });
    assert.equal(sync.identical, 3);
    assert.deepEqual(tree(vault), before, 'the hidden files are neither copied nor removed');
    const report = await vaultVerifyJob({ folder: vault });
    assert.equal(report.ok, true, JSON.stringify(report.artifacts));
    assert.ok(report.artifacts.every((a) => a.files.every((f) => !f.name.startsWith('.'))));
    await verifyCloneFolder(join(vault, CLONE));
    // Restore from the Mac-written vault copy: one image per partition, onto an image file the size of the card
    const target = join(dir, 'restored-from-mac-vault.img');
    const card = readdirSync(dir).find((n) => n.startsWith('Armbian_'))!;
    run('truncate', ['-s', String(statSync(join(dir, card)).size), target]);
    const restored = await restoreJob({
      folder: join(vault, CLONE),
      targets: [{ device: target }],
      intent: 'exact',
      grow: false,
      access: localCardAccess(),
    });
    assert.equal(restored.manifestChecked, true);
    assert.deepEqual(
      restored.partitions.map((p) => p.file),
      readdirSync(join(build, CLONE))
        .filter((n) => /^[^.].*\.partclone\.gz$/.test(n))
        .sort(),
    );
    run('sfdisk', ['--dump', target]);
  });

  test('vault verify passes, then reports a damaged copy (and the CLI exits non-zero)', async () => {
    const ok = await vaultVerifyJob({ folder: vault });
    assert.equal(ok.ok, true);
    assert.deepEqual(
      ok.artifacts.map((a) => [a.name, a.status]),
      [
        [SHELL_CLONE, 'ok'],
        [CLONE, 'ok'],
        [GOLDEN, 'ok'],
      ],
    );
    const damagedVault = join(dir, 'vault-damaged');
    mkdirSync(damagedVault);
    await vaultSyncJob({ from: build, to: damagedVault });
    flipByte(join(damagedVault, CLONE, cloneImage), 1000);
    flipByte(join(damagedVault, GOLDEN), 5 * 1024 * 1024);
    rmSync(join(damagedVault, SHELL_CLONE, 'SHA256SUMS'));
    const report = await vaultVerifyJob({ folder: damagedVault });
    assert.equal(report.ok, false);
    const byName = Object.fromEntries(report.artifacts.map((a) => [a.name, a]));
    assert.equal(byName[CLONE]!.status, 'damaged');
    assert.deepEqual(
      byName[CLONE]!.files.filter((f) => f.status !== 'ok').map((f) => [f.name, f.status]),
      [[cloneImage, 'damaged']],
    );
    assert.equal(byName[GOLDEN]!.status, 'damaged');
    assert.equal(byName[SHELL_CLONE]!.status, 'no-checksum');
    const cli = spawnSync(process.execPath, [CLI, 'vault', 'verify', damagedVault, '--json'], {
      encoding: 'utf8',
    });
    assert.equal(cli.status, 1);
    const lines = cli.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(lines.find((l) => l.type === 'result')!.damaged, 2);
    assert.equal(lines.find((l) => l.type === 'error')!.code, 'CHECKSUM_MISMATCH');
  });

  test('a conflict (same name, other content) is refused and nothing is written', async () => {
    const other = join(dir, 'vault-conflict');
    mkdirSync(other);
    cpSync(join(build, CLONE), join(other, CLONE), { recursive: true, preserveTimestamps: true });
    flipByte(join(other, CLONE, 'partition-table.dump'), 0);
    const before = tree(other);
    await rejectsWith(
      vaultSyncJob({ from: build, to: other }),
      'CONFLICT',
      new RegExp(`${CLONE}.*partition-table.dump`),
    );
    assert.deepEqual(tree(other), before);
    assert.deepEqual(readdirSync(other), [CLONE]); // the golden image was not copied either

    // same size and time but other bytes: the quick check trusts them, --checksum finds the conflict
    const sneaky = join(dir, 'vault-sneaky');
    mkdirSync(sneaky);
    await vaultSyncJob({ from: build, to: sneaky, items: [SHELL_CLONE] });
    flipByte(join(sneaky, SHELL_CLONE, 'partition-table.dump'), 3, true);
    const sneakyBefore = tree(sneaky);
    assert.equal((await vaultSyncJob({ from: build, to: sneaky, items: [SHELL_CLONE] })).identical, 1);
    await rejectsWith(
      vaultSyncJob({ from: build, to: sneaky, items: [SHELL_CLONE], checksum: true }),
      'CONFLICT',
      /other content/,
    );
    assert.deepEqual(tree(sneaky), sneakyBefore);
  });

  test('a missing vault is a clear error and is not created', async () => {
    const missing = join(dir, 'not-plugged-in', 'golden-atlas-img');
    await rejectsWith(vaultSyncJob({ from: build, to: missing }), 'VAULT_UNAVAILABLE', /plugged in/);
    assert.equal(existsSync(join(dir, 'not-plugged-in')), false);
    await rejectsWith(
      vaultSyncJob({ from: build, to: '/Volumes/NVME_VAULT/golden-atlas-img/' }),
      'VAULT_UNAVAILABLE',
      /is the NVME_VAULT disk plugged in\?/,
    );
    await rejectsWith(vaultVerifyJob({ folder: missing }), 'VAULT_UNAVAILABLE', /plugged in/);
    await rejectsWith(vaultSyncJob({ from: build, to: build }), 'SOURCE_IS_TARGET', /same folder/);
    await rejectsWith(
      vaultSyncJob({ from: build, to: vault, items: ['golden-clone-NOPE'] }),
      'NOT_FOUND',
      /golden-clone-NOPE/,
    );
  });

  test('a source that does not match its manifest is not archived', async () => {
    const damagedBuild = join(dir, 'build-damaged');
    const target = join(dir, 'vault-for-damaged');
    mkdirSync(damagedBuild);
    mkdirSync(target);
    cpSync(join(build, CLONE), join(damagedBuild, CLONE), { recursive: true });
    flipByte(join(damagedBuild, CLONE, cloneImage), 2000);
    await rejectsWith(
      vaultSyncJob({ from: damagedBuild, to: target }),
      'CHECKSUM_MISMATCH',
      /source is damaged/,
    );
    assert.deepEqual(readdirSync(target), []);
  });

  test('an interrupted sync leaves only *.partial; the next sync completes it', async () => {
    const target = join(dir, 'vault-interrupted');
    mkdirSync(target);
    const controller = new AbortController();
    await rejectsWith(
      vaultSyncJob(
        { from: build, to: target },
        {
          signal: controller.signal,
          onProgress: (p) => {
            if (p.detail === `copying ${GOLDEN}`) controller.abort();
          },
        },
      ),
      'CANCELLED',
      /cancelled/,
    );
    // the two clone folders were complete before the image started; the image is only a partial
    assert.deepEqual(readdirSync(target).sort(), [SHELL_CLONE, CLONE, `${GOLDEN}.partial`].sort());
    const catalog = await listArtifacts(target);
    assert.equal(
      catalog.artifacts.some((a) => a.name === GOLDEN),
      false,
    );
    assert.deepEqual(catalog.partials, [`${GOLDEN}.partial`]);

    // a clone folder cut short while it was being read back
    const second = join(dir, 'vault-interrupted-2');
    mkdirSync(second);
    const stop = new AbortController();
    await rejectsWith(
      vaultSyncJob(
        { from: build, to: second, items: [CLONE] },
        { signal: stop.signal, onProgress: (p) => p.detail?.startsWith('verifying') && stop.abort() },
      ),
      'CANCELLED',
      /cancelled/,
    );
    assert.deepEqual(readdirSync(second), [`${CLONE}.partial`]);

    const done = await vaultSyncJob({ from: build, to: target });
    assert.deepEqual(
      done.items.map((i) => [i.name, i.action, i.replacedPartial ?? false]),
      [
        [SHELL_CLONE, 'identical', false],
        [CLONE, 'identical', false],
        [GOLDEN, 'copied', true],
      ],
    );
    assert.deepEqual(readdirSync(target).sort(), [SHELL_CLONE, CLONE, GOLDEN, SIDECAR, GOLDEN_SUMS].sort());
    assert.equal(sha256(join(target, GOLDEN)), sha256(join(build, GOLDEN)));
    const again = await vaultSyncJob({ from: build, to: second, items: [CLONE] });
    assert.equal(again.items[0]!.replacedPartial, true);
    assert.deepEqual(readdirSync(second), [CLONE]);
    await verifyCloneFolder(join(second, CLONE));
  });

  test(
    'a vault without room is refused before anything is copied, as a pull over ssh is (VAULT_FULL)',
    { skip: !isRoot && 'needs root to mount a small loop-mounted vault' },
    async () => {
      const small = mountVaultDisk(dir, { mib: 8, name: 'small-vault' });
      try {
        const literal = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        // the same sentence as a pull's, in human units
        await rejectsWith(
          vaultSyncJob({ from: build, to: small.vault }),
          'VAULT_FULL',
          new RegExp(
            `^${literal(small.vault)} has [\\d.]+ [KM]iB free but the copy from ${literal(build)} needs [\\d.]+ MiB \\(\\d+ artifacts\\)\\. Nothing was copied\\.$`,
          ),
        );
        assert.deepEqual(readdirSync(small.vault), [], 'not a byte, not a lock file');
      } finally {
        small.remove();
      }
    },
  );

  test('the CLI: library and vault sync read the folders from the app settings file', () => {
    const config = join(dir, 'config');
    const target = join(dir, 'vault-cli');
    mkdirSync(config);
    mkdirSync(target);
    writeFileSync(join(config, 'settings.json'), JSON.stringify({ buildFolder: build, vaultFolder: target }));
    const env = { ...process.env, ATLAS_CONFIG_DIR: config };
    const atlas = (...args: string[]) =>
      spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env });
    const results = (out: string): Record<string, unknown> =>
      out
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((l) => l.type === 'result')!;

    const sync = atlas('vault', 'sync', '--item', SHELL_CLONE, '--json');
    assert.equal(sync.status, 0, sync.stderr);
    assert.equal(results(sync.stdout).copied, 1);
    run('sha256sum', ['-c', 'SHA256SUMS'], { cwd: join(target, SHELL_CLONE) });

    const listing = atlas('library', '--json');
    assert.equal(listing.status, 0, listing.stderr);
    const entries = results(listing.stdout).entries as Array<{ name: string; location: string }>;
    assert.deepEqual(
      entries.filter((e) => e.location === 'vault').map((e) => e.name),
      [SHELL_CLONE],
    );
    assert.equal(entries.filter((e) => e.location === 'build').length, 3);

    const human = atlas('library');
    assert.match(human.stdout, /unfinished: golden-clone-BROKEN\.partial/);
    const dry = atlas('vault', 'sync', '--dry-run', '--json');
    assert.equal(dry.status, 0, dry.stderr);
    const missing = atlas('vault', 'sync', '--to', join(dir, 'nowhere'));
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /is not there: is the vault's disk plugged in and mounted\?/);

    // the syncs are in the job log the app shows (newest first); the dry run wrote nothing, so left no line
    const log = results(atlas('log', '--json').stdout).entries as JobLogEntry[];
    assert.deepEqual(
      log.map((e) => ({ ...e, time: undefined })),
      [
        {
          time: undefined,
          job: 'vault-sync',
          source: build,
          sha256: null,
          cards: [],
          result: 'failed',
          error: 'VAULT_UNAVAILABLE',
        },
        {
          time: undefined,
          job: 'vault-sync',
          source: build,
          sha256: null,
          cards: [],
          output: target,
          result: 'succeeded',
          error: null,
        },
      ],
    );
  });
});
