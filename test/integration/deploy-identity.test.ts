/**
 * Re-arming a restored card's identity without mounting, on an Armbian-like image that has booted (a machine ID,
 * SSH host keys, its hostname, Armbian's IMAGE_UUID, armbian-firstrun disabled after its run); debugfs and
 * e2fsck are the oracle.
 */
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, constants, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KEYGEN_UNIT, rearmIdentity } from '../../main/engine/jobs/deploy/identity';
import { makeFaultCard } from '../support/fault-card';
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
    '127.0.0.1\tlocalhost\n127.0.1.1\tkiosk-src.lan kiosk-src\n::1\tlocalhost ip6-localhost\n',
  );
  // what systemd and NetworkManager keep for the device, and what they keep that is not the device's
  for (const d of ['var/lib/systemd', 'var/lib/NetworkManager', 'var/lib/dhcp'])
    mkdirSync(join(extra, d), { recursive: true });
  writeFileSync(join(extra, 'var/lib/systemd/random-seed'), Buffer.alloc(512, 7), { mode: 0o600 });
  writeFileSync(join(extra, 'var/lib/NetworkManager/secret_key'), 'nm-secret', { mode: 0o600 });
  writeFileSync(join(extra, 'var/lib/NetworkManager/internal-0f1e-end0.lease'), 'ADDRESS=10.0.0.7\n');
  writeFileSync(
    join(extra, 'var/lib/NetworkManager/NetworkManager.state'),
    '[main]\nNetworkingEnabled=true\n',
  );
  writeFileSync(join(extra, 'var/lib/dhcp/dhclient.end0.leases'), 'lease { fixed-address 10.0.0.7; }\n');
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
  assert.match(hosts, /^127\.0\.1\.1\tatlas-007\.lan atlas-007$/m, 'the name and its FQDN renamed');
  assert.doesNotMatch(hosts, /kiosk-src/);
  assert.match(hosts, /^127\.0\.0\.1\tlocalhost$/m);
  assert.doesNotMatch(debugfs(image, 'cat /etc/armbian-image-release'), /IMAGE_UUID/);
  assert.match(debugfs(image, 'cat /etc/default/armbian-firstrun'), /^OPENSSHD_REGENERATE_HOST_KEYS=true$/m);
  assert.match(
    debugfs(image, 'stat /etc/systemd/system/multi-user.target.wants/armbian-firstrun.service'),
    /Fast link dest: "\/usr\/lib\/systemd\/system\/armbian-firstrun.service"/,
  );
  for (const gone of [
    '/var/lib/systemd/random-seed',
    '/var/lib/NetworkManager/secret_key',
    '/var/lib/NetworkManager/internal-0f1e-end0.lease',
    '/var/lib/dhcp/dhclient.end0.leases',
  ])
    assert.ok(!exists(image, gone), `${gone} is still there`);
  assert.ok(
    exists(image, '/var/lib/NetworkManager/NetworkManager.state'),
    'what is not the device’s is kept',
  );
  const paths = changes.map((c) => c.path);
  for (const p of [
    '/etc/machine-id',
    '/etc/ssh',
    '/etc/hostname',
    '/etc/hosts',
    '/etc/armbian-image-release',
    '/var/lib/systemd/random-seed',
    '/var/lib/NetworkManager/secret_key',
    '/var/lib/NetworkManager',
    '/var/lib/dhcp',
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

test('what the re-arm wrote is read back from the card: a byte the card returns changed fails it', async () => {
  // where the re-arm puts /etc/hostname (libext2fs allocates the same way on the same filesystem every time)
  const probe = join(dir, 'probe.img');
  run('cp', ['--sparse=always', booted, probe]);
  await rearmIdentity(probe, rootOffset, { hostname: 'atlas-flip' });
  const block = Number(debugfs(probe, 'bmap /etc/hostname 0'));
  const blockSize = Number(/Block size:\s+(\d+)/.exec(debugfs(probe, 'stats'))![1]);
  assert.ok(block > 0, 'the hostname has a data block');

  const card = await makeFaultCard(join(dir, 'flip'), Number(run('stat', ['-c', '%s', booted])));
  try {
    shell(`dd if=${booted} of=${card.loop.device} bs=1M oflag=direct conv=fsync status=none`);
    // the card opened as the helper opens it, O_DIRECT: the read-back comes from the medium, not a page cache
    const fd = openSync(card.loop.device, constants.O_RDWR | constants.O_DIRECT);
    try {
      card.set({ flipOnReadAt: rootOffset + block * blockSize + 2 });
      await assert.rejects(
        rearmIdentity(card.loop.device, rootOffset, { hostname: 'atlas-flip', fd, directUnit: 512 }),
        (e: Error & { code?: string }) =>
          e.code === 'VERIFY_MISMATCH' &&
          /\/etc\/hostname .* does not read back as it was written/.test(e.message),
      );
      // the same card without the fault: the same re-arm reads back whole
      card.set({});
      const changes = await rearmIdentity(card.loop.device, rootOffset, {
        hostname: 'atlas-flip',
        fd,
        directUnit: 512,
      });
      assert.ok(changes.some((c) => c.path === '/etc/hostname'));
    } finally {
      closeSync(fd);
    }
  } finally {
    await card.close();
  }
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
