/**
 * Pull from a remote build folder benchmark: a 2 GiB golden image (random bytes) on a build box reached over
 * loopback ssh (the test rig's sshd: test/support/sshd.ts), same run, alternating, the image's cache dropped before
 * each step:
 *   `atlas vault sync --from ssh://…` (list, transfer into a partial, the build box's sha256sum beside it, fsync,
 *   read back from the disk past the cache, compare, checksum file, rename)
 *   vs `scp` of the same file + `sha256sum` on both ends.
 * Atlas gives ssh no cipher (the person's config decides): both sides run with ssh's default and again with
 * aes128-gcm, to say what each costs. Needs root (sshd, the test account). Run: npm run bench -- ssh-pull
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { dropFileCaches, measure, pairedRow } from './support';
import { HOST_ALIAS, startBuildBox } from '../test/support/sshd';

const CLI = join(__dirname, '..', 'main', 'cli', 'run.js');
const sh = (script: string): string =>
  execFileSync('bash', ['-o', 'pipefail', '-ec', script], { encoding: 'utf8', maxBuffer: 64 * 2 ** 20 });
const IMAGE = 'ods-atlas-golden-v9-0-BENCH.img';
const GIB = 2;
const RUNS = 2;

async function main(): Promise<void> {
  if (process.getuid?.() !== 0)
    throw new Error('the ssh-pull bench needs root (its own sshd and test account)');
  const work = mkdtempSync('/var/tmp/atlas-ssh-bench-');
  const box = await startBuildBox(work);
  const remote = join(box.home, 'bench-build');
  try {
    sh(`rm -rf '${remote}' && mkdir -p '${remote}'`);
    sh(`head -c ${GIB}G /dev/urandom > '${remote}/${IMAGE}'`);
    writeFileSync(
      join(remote, IMAGE.replace(/\.img$/, '.manifest.json')),
      JSON.stringify({ kind: 'ods-atlas-golden', phase: 0, tag: 'BENCH', created: new Date().toISOString() }),
    );
    sh(`chown -R ${box.uid}:${box.gid} '${remote}'`);
    const cipherConfig = box.clientConfig({});
    // the same client config with one cipher forced (a Host block's first value wins, so it goes first)
    const gcm = `${cipherConfig}-gcm`;
    writeFileSync(
      gcm,
      `Host ${HOST_ALIAS}\n  Ciphers aes128-gcm@openssh.com\n${readFileSync(cipherConfig, 'utf8')}`,
    );
    const defaultCipher = sh(`ssh -F '${cipherConfig}' -G ${HOST_ALIAS} | sed -n 's/^ciphers //p'`).split(
      ',',
    )[0];
    console.log(
      `a ${GIB} GiB golden image over loopback ssh (${HOST_ALIAS} → 127.0.0.1:${box.port}); ${RUNS} paired runs, the image's cache dropped before each step`,
    );
    const fresh = (name: string): string => {
      const dir = join(work, name);
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir);
      return dir;
    };
    const ours = (config: string): string =>
      `ATLAS_SSH_CONFIG='${config}' node ${CLI} vault sync --from ssh://${HOST_ALIAS}/~/bench-build --to '${fresh('ours')}'`;
    const theirs = (config: string): string => {
      const dir = fresh('scp');
      return (
        `scp -q -F '${config}' ${HOST_ALIAS}:bench-build/${IMAGE} '${dir}/' && ` +
        `ssh -F '${config}' ${HOST_ALIAS} 'sha256sum bench-build/${IMAGE}' >/dev/null && sha256sum '${dir}/${IMAGE}' >/dev/null`
      );
    };
    for (const [label, config] of [
      [`default cipher (${defaultCipher})`, cipherConfig],
      ['aes128-gcm@openssh.com', gcm],
    ] as const) {
      const pairs: Array<[number, number]> = [];
      for (let i = 0; i < RUNS; i++) {
        dropFileCaches(join(remote, IMAGE));
        const o = measure(ours(config)).seconds;
        dropFileCaches(join(remote, IMAGE));
        const t = measure(theirs(config)).seconds;
        pairs.push([o, t]);
      }
      console.log(pairedRow(`pull vs scp + 2× sha256sum, ${label}`, pairs, '<= 1.1'));
      const best = Math.min(...pairs.map((p) => p[0]));
      console.log(`  atlas pull: ${((GIB * 2 ** 30) / best / 1e6).toFixed(0)} MB/s received and read back`);
      // the pulled image is the build box's, byte for byte
      sh(
        `cmp '${join(work, 'ours', IMAGE)}' '${join(remote, IMAGE)}' && cmp '${join(work, 'scp', IMAGE)}' '${join(remote, IMAGE)}'`,
      );
    }
  } finally {
    await box.stop();
    rmSync(remote, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
