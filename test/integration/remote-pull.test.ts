/**
 * Remote build folders over a real sshd (test/support/sshd.ts): the build box's ~/atlas-build holds a clone folder
 * (cloneJob on the Armbian fixture), a golden image with its sidecar (insertJob), and a larger golden image of
 * random bytes; the vault is an ext4 filesystem on a loop device. Every byte is compared with sha256sum. Then the
 * dropped connection (the transfer's sshd process killed), the cancelled pull resumed by the next one, a partial
 * whose prefix is wrong, a file changed on the build box after its manifest, and each refusal: unknown host key,
 * unreachable port, wrong key, missing folder, full vault, conflict. Last, the CLI as an unprivileged user.
 */
import test, { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  chmodSync,
  closeSync,
  cpSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  readdirSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { cloneJob } from '../../main/engine/jobs/clone';
import { localCardAccess } from '../../main/engine/drives/index';
import { insertJob } from '../../main/engine/jobs/insert';
import { vaultSyncJob, vaultVerifyJob } from '../../main/engine/jobs/vault';
import { listArtifacts } from '../../main/engine/library/catalog';
import { listRemoteArtifacts } from '../../main/engine/remote/catalog';
import { isAtlasError } from '../../main/engine/errors';
import type { Progress } from '../../main/engine/progress';
import { parseRemoteFolder, type RemoteFolder } from '../../main/shared/remote-folders';
import { createHandlers } from '../../main/app/handlers';
import { inProcessFileJobs } from '../../main/app/production';
import type { EventOf, RemoteListing, Reply } from '../../main/contract';
import { makeArmbianImage } from '../support/armbian';
import { mountVaultDisk, type VaultDisk } from '../support/vault-disk';
import { isRoot, run, scratchDir } from '../support/sh';
import { HOST_ALIAS, freePort, startBuildBox, type BuildBox } from '../support/sshd';

const CLI = join(__dirname, '..', '..', 'main', 'cli', 'run.js');
const sha256 = (path: string): string => run('sha256sum', [path]).split(' ')[0]!;
const FROM = `ssh://${HOST_ALIAS}/~/atlas-build`;
const needsRoot = { skip: !isRoot && 'needs root: sshd, a test account, a loop-mounted vault' };

const CLONE = 'golden-clone-v3-0-REMOTE';
const GOLDEN = 'ods-atlas-golden-v3-0-REMOTE.img';
const SIDECAR = 'ods-atlas-golden-v3-0-REMOTE.manifest.json';
const BIG = 'ods-atlas-golden-v3-1-BIG.img';
const BIG_SIDECAR = 'ods-atlas-golden-v3-1-BIG.manifest.json';
const BIG_MIB = 320;

async function rejectsWith(promise: Promise<unknown>, code: string, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(isAtlasError(error), `expected an AtlasError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    assert.match(error.message, pattern);
    return true;
  });
}

function flipByte(path: string, offset: number): void {
  const fd = openSync(path, 'r+');
  const b = Buffer.alloc(1);
  readSync(fd, b, 0, 1, offset);
  b[0] = b[0]! ^ 0xff;
  writeSync(fd, b, 0, 1, offset);
  closeSync(fd);
}

describe('pull from a remote build folder over ssh', needsRoot, () => {
  const { dir, cleanup } = scratchDir('atlas-remote-');
  let box: BuildBox;
  let remoteBuild = '';
  const build = join(dir, 'build');
  let disk: VaultDisk | null = null;
  let vault = '';
  const ssh = (): { configFile: string } => ({ configFile: box.config });

  before(async () => {
    box = await startBuildBox(dir);
    remoteBuild = join(box.home, 'atlas-build');
    run('rm', ['-rf', remoteBuild]);
    mkdirSync(build);
    const base = join(dir, 'Armbian_26.2.1_Rpi4b_trixie_current_6.18.9_minimal.img');
    makeArmbianImage(base, { imgMib: 160, extraMib: 8 });
    await cloneJob({ source: base, outDir: build, tag: 'v3-0-REMOTE', access: localCardAccess() });
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
      secrets: input('atlas_secrets.conf', 'TOKEN=remote-test\n', 0o600),
      version: 3,
      patch: 0,
      tag: 'REMOTE',
      outDir: build,
    });
    // a larger image of random bytes, for the interrupted transfers: a wrong byte anywhere shows
    run('openssl', ['rand', '-out', join(build, BIG), String(BIG_MIB * 1024 * 1024)]);
    chmodSync(join(build, BIG), 0o600);
    writeFileSync(
      join(build, BIG_SIDECAR),
      JSON.stringify({ kind: 'ods-atlas-golden', phase: 0, name: BIG, created: '2026-11-20T10:00:00.000Z' }),
    );
    cpSync(build, remoteBuild, { recursive: true, preserveTimestamps: true });
    run('chown', ['-R', `${box.uid}:${box.gid}`, remoteBuild]);

    // the vault: ext4 on a loop device
    disk = mountVaultDisk(dir, { mib: 1200 });
    vault = disk.vault;
  });

  after(async () => {
    await box?.stop();
    disk?.remove();
    run('rm', ['-rf', remoteBuild]);
    cleanup();
  });

  test('the remote folder lists as the local one: names, sizes, dates, manifests', async () => {
    const remote = parseRemoteFolder(FROM) as RemoteFolder;
    const far = await listRemoteArtifacts(remote, ssh());
    const near = await listArtifacts(build);
    const facts = (a: (typeof near.artifacts)[number]): unknown => ({
      name: a.name,
      kind: a.kind,
      tag: a.tag,
      created: a.created.slice(0, 19),
      size: a.size,
      hasManifest: a.hasManifest,
      manifestFile: a.manifestFile,
      files: a.files.map((f) => [f.name, f.size]),
    });
    assert.deepEqual(far.artifacts.map(facts), near.artifacts.map(facts));
    const clone = far.artifacts.find((a) => a.name === CLONE)!;
    assert.ok(clone.hashes.size >= 4, 'the clone manifest’s sha256s came along');
    assert.equal(
      far.artifacts.find((a) => a.name === GOLDEN)!.files.find((f) => f.name === GOLDEN)!.mode,
      0o600,
    );
  });

  test('pull copies every artifact into the vault; every byte equals the build box’s', async () => {
    const events: Progress[] = [];
    const dry = await vaultSyncJob({ from: FROM, to: vault, dryRun: true, ssh: ssh() });
    assert.deepEqual(
      dry.items.map((i) => i.action),
      ['would-copy', 'would-copy', 'would-copy'],
    );
    assert.deepEqual(readdirSync(vault), []);
    const result = await vaultSyncJob(
      { from: FROM, to: vault, ssh: ssh() },
      { onProgress: (p) => events.push(p) },
    );
    assert.equal(result.copied, 3);
    for (const name of [GOLDEN, SIDECAR, BIG, BIG_SIDECAR]) {
      assert.equal(sha256(join(vault, name)), sha256(join(remoteBuild, name)), name);
      assert.equal(statSync(join(vault, name)).mode & 0o777, statSync(join(remoteBuild, name)).mode & 0o777);
      assert.equal(
        Math.floor(statSync(join(vault, name)).mtimeMs / 1000),
        Math.floor(statSync(join(remoteBuild, name)).mtimeMs / 1000),
      );
    }
    assert.equal(statSync(join(vault, GOLDEN)).mode & 0o777, 0o600, 'the golden image holds secrets: 0600');
    for (const name of readdirSync(join(remoteBuild, CLONE))) {
      assert.equal(sha256(join(vault, CLONE, name)), sha256(join(remoteBuild, CLONE, name)), name);
    }
    // the golden images had no checksum: the vault gets one, from the bytes both ends agree on
    assert.match(run('sha256sum', ['-c', GOLDEN.replace(/\.img$/, '.sha256')], { cwd: vault }), /: OK/);
    const byName = Object.fromEntries(result.items.map((i) => [i.name, i]));
    assert.ok(
      byName[CLONE]!.files.filter((f) => f.name.endsWith('.gz')).every((f) => f.reference === 'manifest'),
    );
    assert.ok(byName[GOLDEN]!.files.every((f) => f.reference === 'remote'));
    const report = await vaultVerifyJob({ folder: vault });
    assert.equal(report.ok, true, JSON.stringify(report.artifacts));
    // progress: MB/s and ETA along the way, complete at the end
    assert.ok(events.some((e) => e.detail === `receiving ${BIG} from ${HOST_ALIAS}` && e.rate > 0));
    assert.ok(events.some((e) => e.etaSeconds !== null && e.etaSeconds > 0));
    assert.equal(events.at(-1)!.bytesDone, events.at(-1)!.bytesTotal);
    assert.equal(readdirSync(vault).filter((n) => n.endsWith('.partial')).length, 0);
  });

  test('a second pull copies nothing (also comparing by checksum on the build box)', async () => {
    const quick = await vaultSyncJob({ from: FROM, to: vault, ssh: ssh() });
    assert.equal(quick.copied, 0);
    assert.equal(quick.identical, 3);
    const thorough = await vaultSyncJob({ from: FROM, to: vault, checksum: true, ssh: ssh() });
    assert.equal(thorough.identical, 3);
  });

  test('a dropped connection (its sshd process killed mid-file) resumes and ends verified', async () => {
    const target = join(dir, 'pull-dropped');
    mkdirSync(target);
    let killed: number[] = [];
    const result = await vaultSyncJob(
      { from: FROM, to: target, items: [BIG], ssh: ssh() },
      {
        onProgress: (p) => {
          if (killed.length > 0 || p.detail !== `receiving ${BIG} from ${HOST_ALIAS}`) return;
          if (p.bytesDone < 48 * 1024 * 1024) return;
          killed = box.sessionsRunning(/tail -c/);
          for (const pid of killed) process.kill(pid, 'SIGKILL');
        },
      },
    );
    assert.ok(killed.length > 0, 'the transfer’s sshd process was found and killed');
    const item = result.items[0]!;
    assert.equal(item.action, 'copied');
    assert.ok((item.resumes ?? 0) >= 1, `resumed (${JSON.stringify(item)})`);
    assert.equal(sha256(join(target, BIG)), sha256(join(remoteBuild, BIG)));
  });

  test('a cancelled pull keeps its partial; the next pull continues from its proved prefix', async () => {
    const target = join(dir, 'pull-cancelled');
    mkdirSync(target);
    const controller = new AbortController();
    await rejectsWith(
      vaultSyncJob(
        { from: FROM, to: target, items: [BIG], ssh: ssh() },
        {
          signal: controller.signal,
          onProgress: (p) => {
            if (p.detail === `receiving ${BIG} from ${HOST_ALIAS}` && p.bytesDone > 64 * 1024 * 1024) {
              controller.abort();
            }
          },
        },
      ),
      'CANCELLED',
      /cancelled/,
    );
    const partial = join(target, `${BIG}.partial`);
    const kept = statSync(partial).size;
    assert.ok(kept > 0 && kept < BIG_MIB * 1024 * 1024, `a partial of ${kept} bytes`);
    assert.equal(existsSync(join(target, BIG)), false);
    const result = await vaultSyncJob({ from: FROM, to: target, items: [BIG], ssh: ssh() });
    assert.equal(result.items[0]!.resumedBytes, kept);
    assert.equal(sha256(join(target, BIG)), sha256(join(remoteBuild, BIG)));
  });

  test('a partial whose bytes differ from the build box’s is not trusted: the file starts over', async () => {
    const target = join(dir, 'pull-bad-prefix');
    mkdirSync(target);
    const partial = join(target, `${BIG}.partial`);
    // the first 32 MiB of the real file with one byte wrong in the middle
    spawnSync('sh', ['-c', `head -c 33554432 '${join(remoteBuild, BIG)}' > '${partial}'`]);
    assert.equal(statSync(partial).size, 32 * 1024 * 1024);
    flipByte(partial, 12345678);
    const result = await vaultSyncJob({ from: FROM, to: target, items: [BIG], ssh: ssh() });
    assert.equal(result.items[0]!.resumedBytes, undefined, 'nothing kept');
    assert.equal(sha256(join(target, BIG)), sha256(join(remoteBuild, BIG)));
  });

  test('a file changed on the build box after its manifest was written: damaged, not archived', async () => {
    const damaged = 'golden-clone-v3-0-CHANGED';
    const there = join(remoteBuild, damaged);
    cpSync(join(remoteBuild, CLONE), there, { recursive: true });
    const manifest = JSON.parse(readFileSync(join(there, 'atlas-manifest.json'), 'utf8')) as { tag: string };
    manifest.tag = 'v3-0-CHANGED';
    writeFileSync(join(there, 'atlas-manifest.json'), JSON.stringify(manifest));
    const image = readdirSync(there).find((n) => n.endsWith('-root.partclone.gz'))!;
    flipByte(join(there, image), 1000);
    run('chown', ['-R', `${box.uid}:${box.gid}`, there]);
    try {
      await rejectsWith(
        vaultSyncJob({ from: FROM, to: vault, items: [damaged], ssh: ssh() }),
        'CHECKSUM_MISMATCH',
        new RegExp(`${damaged}/${image} on ${HOST_ALIAS} does not match its manifest.*not archived`),
      );
      assert.equal(existsSync(join(vault, damaged)), false);
      assert.deepEqual(
        readdirSync(join(vault, `${damaged}.partial`)).includes(image),
        false,
        'the bad file is gone',
      );
    } finally {
      run('rm', ['-rf', there, join(vault, `${damaged}.partial`)]);
    }
  });

  test('an unknown host key is refused with how to trust it; nothing is copied', async () => {
    const target = join(dir, 'pull-refused');
    mkdirSync(target, { recursive: true });
    await rejectsWith(
      vaultSyncJob({ from: FROM, to: target, ssh: { configFile: box.clientConfig({ knownHosts: 'none' }) } }),
      'SSH_HOST_KEY',
      /not yet a known host.*Connect once in a Terminal with "ssh buildbox".*fingerprint/,
    );
    assert.deepEqual(readdirSync(target), []);
  });

  test('an unreachable port, a wrong key and a missing folder are each a clear refusal', async () => {
    const target = join(dir, 'pull-refused');
    mkdirSync(target, { recursive: true });
    const closed = await freePort();
    await rejectsWith(
      vaultSyncJob({ from: FROM, to: target, ssh: { configFile: box.clientConfig({ port: closed }) } }),
      'SSH_UNREACHABLE',
      /Cannot reach buildbox: .*Connection refused/,
    );
    await rejectsWith(
      vaultSyncJob({ from: FROM, to: target, ssh: { configFile: box.clientConfig({ key: 'wrong' }) } }),
      'SSH_AUTH_FAILED',
      /buildbox refused the sign-in/,
    );
    await rejectsWith(
      vaultSyncJob({ from: `ssh://${HOST_ALIAS}/~/no-such-folder`, to: target, ssh: ssh() }),
      'REMOTE_NOT_FOUND',
      /~\/no-such-folder does not exist on buildbox/,
    );
    assert.deepEqual(readdirSync(target), []);
  });

  test('a vault too small is refused before the first byte', async () => {
    const small = mountVaultDisk(dir, { mib: 64, name: 'small-vault' });
    try {
      await rejectsWith(
        vaultSyncJob({ from: FROM, to: small.vault, ssh: ssh() }),
        'VAULT_FULL',
        /free but the copy from buildbox needs .*Nothing was copied/,
      );
      assert.deepEqual(readdirSync(small.vault), []);
    } finally {
      small.remove();
    }
  });

  test('an artifact of the same name with other content in the vault is a conflict, never overwritten', async () => {
    const target = join(dir, 'pull-conflict');
    mkdirSync(target);
    writeFileSync(join(target, GOLDEN), 'another image');
    await rejectsWith(
      vaultSyncJob({ from: FROM, to: target, items: [GOLDEN], ssh: ssh() }),
      'CONFLICT',
      new RegExp(GOLDEN.replace(/\./g, '\\.')),
    );
    assert.equal(readFileSync(join(target, GOLDEN), 'utf8'), 'another image');
  });

  test('the app: a remote folder in settings, listed with what the vault holds, pulled through vault:sync', async () => {
    const target = join(dir, 'pull-app');
    mkdirSync(target);
    const finished: Array<EventOf<'job:finished'>> = [];
    process.env.ATLAS_SSH_CONFIG = box.config;
    const app = createHandlers({
      version: '0.0.0-test',
      platform: 'linux',
      configDir: join(dir, 'app-config'),
      homeDir: join(dir, 'app-home'),
      listDrives: async () => [],
      emit: (event, payload) => {
        if (event === 'job:finished') finished.push(payload as EventOf<'job:finished'>);
      },
      fileJobs: inProcessFileJobs,
    });
    try {
      const ok = <T>(reply: Reply<unknown>): T => {
        assert.equal(reply.ok, true, JSON.stringify(reply));
        return (reply as { value: T }).value;
      };
      ok(await app.dispatch('settings:set', { vaultFolder: target, remoteFolders: [`ssh://${HOST_ALIAS}`] }));
      const settings = ok<{ remoteFolders: string[] }>(await app.dispatch('settings:get', {}));
      assert.deepEqual(settings.remoteFolders, [FROM]);
      const before = ok<RemoteListing>(await app.dispatch('remote:list', { folder: FROM }));
      assert.deepEqual(Object.fromEntries(before.entries.map((e) => [e.name, e.inVault])), {
        [CLONE]: 'missing',
        [GOLDEN]: 'missing',
        [BIG]: 'missing',
      });
      const { jobId } = ok<{ jobId: string }>(
        await app.dispatch('vault:sync', { from: FROM, items: [GOLDEN, CLONE] }),
      );
      while (!finished.some((f) => f.jobId === jobId)) await new Promise((r) => setTimeout(r, 20));
      const outcome = finished.find((f) => f.jobId === jobId)!.outcome;
      assert.equal(outcome.ok, true, JSON.stringify(outcome));
      const after = ok<RemoteListing>(await app.dispatch('remote:list', { folder: FROM }));
      assert.deepEqual(Object.fromEntries(after.entries.map((e) => [e.name, e.inVault])), {
        [CLONE]: 'held',
        [GOLDEN]: 'held',
        [BIG]: 'missing',
      });
      // a folder that breaks the rule is refused before any ssh runs
      const refused = await app.dispatch('remote:list', { folder: 'ssh://-oProxyCommand=x/y' });
      assert.equal(refused.ok, false);
    } finally {
      delete process.env.ATLAS_SSH_CONFIG;
      await app.dispose();
    }
  });

  test('the CLI pulls as an unprivileged user, with that user’s key; the files are theirs', () => {
    const user = 'atlas-tester';
    const uid = Number(run('id', ['-u', user]).trim());
    const gid = Number(run('id', ['-g', user]).trim());
    const target = join(dir, 'pull-as-user');
    mkdirSync(target);
    run('chown', [`${uid}:${gid}`, target]);
    const config = box.clientConfig({ owner: uid });
    const r = spawnSync(
      'runuser',
      [
        '-u',
        user,
        '--',
        process.execPath,
        CLI,
        'vault',
        'sync',
        '--from',
        FROM,
        '--to',
        target,
        '--item',
        GOLDEN,
        '--json',
      ],
      {
        encoding: 'utf8',
        env: { ...process.env, ATLAS_SSH_CONFIG: config, ATLAS_CONFIG_DIR: join(dir, 'cfg') },
        cwd: '/',
      },
    );
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { copied: number };
    assert.equal(out.copied, 1);
    assert.equal(sha256(join(target, GOLDEN)), sha256(join(remoteBuild, GOLDEN)));
    for (const name of readdirSync(target)) assert.equal(statSync(join(target, name)).uid, uid, name);
  });
});
