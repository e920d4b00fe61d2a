/**
 * Re-arming a restored card's identity without mounting, on an Armbian-like image that has booted (a machine ID,
 * SSH host keys, its hostname, Armbian's IMAGE_UUID, armbian-firstrun disabled after its run); debugfs and
 * e2fsck are the oracle.
 */
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KEYGEN_UNIT, rearmIdentity } from '../../main/engine/jobs/deploy/identity';
import { run, scratchDir, shell, tryRun } from '../support/sh';

let dir = '';
let cleanup = (): void => undefined;
let booted = '';
let rootOffset = 0;

function debugfs(image: string, request: string): string {
  return run('debugfs', ['-R', request, `${image}?offset=${rootOffset}`]).trim();
}

function exists(image: string, path: string): boolean {
  return !/File not found/.test(
    tryRun('debugfs', ['-R', `stat ${path}`, `${image}?offset=${rootOffset}`]).stderr,
  );
}

before(() => {
  ({ dir, cleanup } = scratchDir('atlas-identity-'));
  const extra = join(dir, 'extra');
  mkdirSync(join(extra, 'etc/ssh'), { recursive: true });
  writeFileSync(join(extra, 'etc/machine-id'), '0123456789abcdef0123456789abcdef\n');
  for (const t of ['rsa', 'ed25519']) {
    writeFileSync(join(extra, `etc/ssh/ssh_host_${t}_key`), `PRIVATE ${t}\n`, { mode: 0o600 });
    writeFileSync(join(extra, `etc/ssh/ssh_host_${t}_key.pub`), `PUBLIC ${t}\n`);
  }
  writeFileSync(join(extra, 'etc/ssh/sshd_config'), 'PermitRootLogin no\n');
  writeFileSync(join(extra, 'etc/hostname'), 'kiosk-src\n');
  writeFileSync(
    join(extra, 'etc/hosts'),
    '127.0.0.1\tlocalhost\n127.0.1.1\tkiosk-src\n::1\tlocalhost ip6-localhost\n',
  );
  booted = join(dir, 'booted.img');
  shell(`EXTRA_ROOT=${extra} IMG_MIB=160 FAT_MIB=64 bash test/fixtures/make-armbian-image.sh ${booted}`);
  const table = JSON.parse(run('sfdisk', ['--json', booted])) as {
    partitiontable: { sectorsize?: number; partitions: Array<{ start: number }> };
  };
  rootOffset = table.partitiontable.partitions[1]!.start * (table.partitiontable.sectorsize ?? 512);
  // what a first boot leaves: IMAGE_UUID appended, armbian-firstrun disabled
  const release = debugfs(booted, 'cat /etc/armbian-image-release');
  const releaseFile = join(dir, 'release');
  writeFileSync(releaseFile, `${release}\nIMAGE_UUID=5d2c7f9e-0000-4000-8000-000000000001\n`);
  shell(
    `debugfs -w -R 'rm /etc/armbian-image-release' '${booted}?offset=${rootOffset}' && ` +
      `debugfs -w -R 'write ${releaseFile} /etc/armbian-image-release' '${booted}?offset=${rootOffset}' && ` +
      `debugfs -w -R 'rm /etc/systemd/system/multi-user.target.wants/armbian-firstrun.service' '${booted}?offset=${rootOffset}'`,
  );
  assert.match(debugfs(booted, 'cat /etc/armbian-image-release'), /IMAGE_UUID=/);
});

after(() => cleanup());

test('a booted card becomes a device of its own: machine ID, host keys, hostname, IMAGE_UUID', async () => {
  const image = join(dir, 'card1.img');
  run('cp', ['--sparse=always', booted, image]);
  const changes = await rearmIdentity(image, rootOffset, { hostname: 'atlas-007' });
  assert.equal(debugfs(image, 'cat /etc/machine-id'), '');
  const ssh = debugfs(image, 'ls -l /etc/ssh');
  assert.doesNotMatch(ssh, /ssh_host_/);
  assert.match(ssh, /sshd_config/, 'other files in /etc/ssh are kept');
  assert.equal(debugfs(image, 'cat /etc/hostname'), 'atlas-007');
  const hosts = debugfs(image, 'cat /etc/hosts');
  assert.match(hosts, /^127\.0\.1\.1\tatlas-007$/m);
  assert.doesNotMatch(hosts, /kiosk-src/);
  assert.match(hosts, /^127\.0\.0\.1\tlocalhost$/m);
  assert.doesNotMatch(debugfs(image, 'cat /etc/armbian-image-release'), /IMAGE_UUID/);
  assert.match(debugfs(image, 'cat /etc/default/armbian-firstrun'), /^OPENSSHD_REGENERATE_HOST_KEYS=true$/m);
  assert.match(
    debugfs(image, 'stat /etc/systemd/system/multi-user.target.wants/armbian-firstrun.service'),
    /Fast link dest: "\/usr\/lib\/systemd\/system\/armbian-firstrun.service"/,
  );
  const paths = changes.map((c) => c.path);
  for (const p of [
    '/etc/machine-id',
    '/etc/ssh',
    '/etc/hostname',
    '/etc/hosts',
    '/etc/armbian-image-release',
  ]) {
    assert.ok(paths.includes(p), `no change listed for ${p}: ${JSON.stringify(changes)}`);
  }
  fsckClean(image);
});

test('without armbian-firstrun, a unit of ours makes the host keys at first boot', async () => {
  const image = join(dir, 'card2.img');
  run('cp', ['--sparse=always', booted, image]);
  shell(
    `debugfs -w -R 'rm /usr/lib/systemd/system/armbian-firstrun.service' '${image}?offset=${rootOffset}'`,
  );
  const changes = await rearmIdentity(image, rootOffset, { hostname: 'atlas-serial-1' });
  assert.match(debugfs(image, `cat ${KEYGEN_UNIT}`), /ExecStart=\/usr\/bin\/ssh-keygen -A/);
  assert.ok(exists(image, '/etc/systemd/system/multi-user.target.wants/atlas-ssh-host-keys.service'));
  assert.ok(!exists(image, '/etc/default/armbian-firstrun'));
  assert.ok(changes.some((c) => c.path === KEYGEN_UNIT));
  fsckClean(image);
});

test('a hostname that is not one is refused before anything is written', async () => {
  const image = join(dir, 'card3.img');
  run('cp', ['--sparse=always', booted, image]);
  const before = run('sha256sum', [image]);
  await assert.rejects(rearmIdentity(image, rootOffset, { hostname: 'Atlas_007' }), /not a hostname/);
  assert.equal(run('sha256sum', [image]), before);
});

function fsckClean(image: string): void {
  const view = join(dir, 'fsck-root.img');
  shell(`dd if=${image} of=${view} bs=1M iflag=skip_bytes skip=${rootOffset} status=none`);
  const r = tryRun('e2fsck', ['-fn', view]);
  assert.equal(r.status, 0, r.stdout + r.stderr);
}
