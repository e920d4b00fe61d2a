/**
 * Vault sync benchmark: ~1 GiB of artifacts (a golden image with its sidecar, a clone folder with a manifest, one the
 * shell commands made) copied into an empty vault folder on the same disk, same run, caches dropped before each run:
 *   `atlas vault sync` (the CLI: copy + fsync + read back from the disk + sha256 compare + checksum files)
 *   vs `cp -r` + sync, `rsync -a` + sync (copy only, no verification),
 *   vs `rsync -a` + sync + drop caches + `sha256sum -c` of the copy (copy and verify, the hashes known beforehand),
 *   vs `cp -r` + sync + drop caches + `sha256sum -c`.
 * Installs rsync with apt-get when it is missing. Run: npm run bench -- vault
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { bestOf, measure, row } from './support';

const CLI = join(__dirname, '..', 'main', 'cli', 'run.js');
const sh = (script: string): string =>
  execFileSync('bash', ['-o', 'pipefail', '-ec', script], { encoding: 'utf8', maxBuffer: 64 * 2 ** 20 });
const isRoot = process.getuid?.() === 0;
const DROP = isRoot ? 'sync && echo 3 > /proc/sys/vm/drop_caches' : 'sync';

function ensureRsync(): void {
  if (spawnSync('bash', ['-c', 'command -v rsync']).status === 0) return;
  console.log('rsync missing: apt-get install rsync');
  sh('apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rsync >/dev/null');
}

/** Random (incompressible, like partclone.gz and a filled image) files: MiB sizes. */
function randomFile(path: string, mib: number): void {
  sh(`head -c ${mib}M /dev/urandom > '${path}'`);
}

function makeBuild(build: string): number {
  mkdirSync(build);
  const golden = join(build, 'ods-atlas-golden-v8-1-BENCH.img');
  randomFile(golden, 448);
  writeFileSync(
    join(build, 'ods-atlas-golden-v8-1-BENCH.manifest.json'),
    JSON.stringify({ kind: 'ods-atlas-golden', phase: 0, tag: 'BENCH', created: new Date().toISOString() }),
  );
  const withManifest = join(build, 'golden-clone-v8-1-BENCH');
  mkdirSync(withManifest);
  randomFile(join(withManifest, 'sdc1-boot.partclone.gz'), 32);
  randomFile(join(withManifest, 'sdc2-root.partclone.gz'), 320);
  writeFileSync(
    join(withManifest, 'partition-table.dump'),
    'label: dos\nunit: sectors\n\n/dev/sdc1 : start=8192, size=131072, type=c\n',
  );
  writeFileSync(join(withManifest, 'restore_golden.sh'), '#!/bin/bash\necho restore\n', { mode: 0o755 });
  const files = readdirSync(withManifest).map((name) => ({
    name,
    size: statSync(join(withManifest, name)).size,
    sha256: sh(`sha256sum '${join(withManifest, name)}'`).split(' ')[0]!,
  }));
  writeFileSync(
    join(withManifest, 'atlas-manifest.json'),
    JSON.stringify({
      format: 'atlas-clone',
      formatVersion: 1,
      phase: 1,
      tag: 'v8-1-BENCH',
      created: new Date().toISOString(),
      files,
    }),
  );
  const shell = join(build, 'golden-clone-SHELL');
  mkdirSync(shell);
  randomFile(join(shell, 'sdc1-boot.partclone.gz'), 32);
  randomFile(join(shell, 'sdc2-root.partclone.gz'), 192);
  writeFileSync(join(shell, 'partition-table.dump'), 'label: dos\n');
  return Number(sh(`du -sb '${build}' | cut -f1`).trim());
}

async function main(): Promise<void> {
  ensureRsync();
  const work = mkdtempSync('/var/tmp/atlas-vault-bench-');
  try {
    const build = join(work, 'build');
    const bytes = makeBuild(build);
    // the reference's known hashes (what a manifest gives us), relative to the build folder
    const sums = join(work, 'SUMS');
    sh(`cd '${build}' && find . -type f -print0 | sort -z | xargs -0 sha256sum > '${sums}'`);
    console.log(
      `artifacts: ${(bytes / 2 ** 30).toFixed(2)} GiB in 3 artifacts; ${isRoot ? 'caches dropped' : 'not root: warm caches'}`,
    );
    const fresh = (name: string): string => {
      const dir = join(work, name);
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir);
      return dir;
    };
    const ours = (): string => `node ${CLI} vault sync --from '${build}' --to '${fresh('vault-ours')}'`;
    const cp = (): string => `cp -r '${build}/.' '${fresh('vault-cp')}' && sync`;
    const rsync = (): string => `rsync -a '${build}/' '${fresh('vault-rsync')}/' && sync`;
    const rsyncCheck = (): string => {
      const dir = fresh('vault-rsync-check');
      return `rsync -a '${build}/' '${dir}/' && ${DROP} && cd '${dir}' && sha256sum -c --quiet '${sums}'`;
    };
    const cpCheck = (): string => {
      const dir = fresh('vault-cp-check');
      return `cp -r '${build}/.' '${dir}' && ${DROP} && cd '${dir}' && sha256sum -c --quiet '${sums}'`;
    };
    const [o, c, r, rc, cc] = bestOf(2, [
      () => measure(ours()),
      () => measure(cp()),
      () => measure(rsync()),
      () => measure(rsyncCheck()),
      () => measure(cpCheck()),
    ]);
    console.log(
      row('vault sync vs rsync -a + sha256sum -c', o!.seconds, rc!.seconds, 's', '<= 1.0 (copy and verify)'),
    );
    console.log(
      row('vault sync vs cp -r + sha256sum -c', o!.seconds, cc!.seconds, 's', '<= 1.0 (copy and verify)'),
    );
    console.log(row('vault sync vs rsync -a (no verify)', o!.seconds, r!.seconds, 's', 'info'));
    console.log(row('vault sync vs cp -r (no verify)', o!.seconds, c!.seconds, 's', 'info'));
    console.log(
      `  atlas vault sync: ${(bytes / o!.seconds / 1e6).toFixed(0)} MB/s copied and read back; peak RSS ${(o!.maxRssBytes / 2 ** 20).toFixed(0)} MiB`,
    );
    // the copies are the same bytes
    sh(`cd '${join(work, 'vault-ours')}' && sha256sum -c --quiet '${sums}'`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
