/**
 * A fake `lsblk` put first on PATH so the real drivelist code path runs in tests: it calls the real lsblk and
 * presents the test's loop device as a card (drivelist hides /dev/loop*) under a symlink such as /tmp/…/sdz.
 * The presentation is read from a JSON file at each call, so a test can change it (swap the serial, turn the
 * card into the system disk) while a job runs.
 */
import { chmodSync, copyFileSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from './sh';

export interface FakeCard {
  /** the loop device, /dev/loopN */
  loop: string;
  removable?: boolean;
  tran?: string;
  serial?: string | null;
  model?: string;
  /**
   * the serial the root broker sees (an lsblk run by a process started with --token-file=): a card swapped
   * between the person confirming it and the broker opening it
   */
  brokerSerial?: string;
  /** pretend a partition of it is mounted at / (the system disk) */
  holdsRoot?: boolean;
  readOnly?: boolean;
}

export interface FakeLsblk {
  /** the folder to put first on PATH */
  binDir: string;
  /** PATH with the fake first */
  path: string;
  /** the fake itself, to bind-mount over /usr/bin/lsblk where PATH cannot reach (a root helper's reset PATH) */
  script: string;
  /** the symlink each loop device is presented as */
  deviceFor(loop: string): string;
  /** rewrite the presentation of the cards */
  set(cards: FakeCard[]): void;
  /**
   * An executable to start the root broker with (the helper's launch `execPath`): it runs Node in a mount
   * namespace of its own where the fake is bind-mounted over /usr/bin/lsblk, since the broker looks for its
   * tools in root's folders only. Nothing outside that namespace changes.
   */
  brokerLauncher: string;
}

export function installFakeLsblk(dir: string, cards: FakeCard[]): FakeLsblk {
  const binDir = join(dir, 'fakebin');
  const devDir = join(dir, 'fakedev');
  mkdirSync(binDir, { recursive: true });
  mkdirSync(devDir, { recursive: true });
  // a copy of the real one: the fake may be bind-mounted over /usr/bin/lsblk (see elevated.ts), where calling
  // the real one by its usual path would call the fake again
  const realLsblk = join(binDir, 'real-lsblk');
  copyFileSync(run('bash', ['-c', 'command -v lsblk']).trim(), realLsblk);
  chmodSync(realLsblk, 0o755);
  const configPath = join(dir, 'fake-lsblk.json');
  const names = new Map<string, string>();
  const deviceFor = (loop: string): string => {
    let name = names.get(loop);
    if (!name) {
      name = join(devDir, `sd${String.fromCharCode(122 - names.size)}`); // sdz, sdy, …
      symlinkSync(loop, name);
      names.set(loop, name);
    }
    return name;
  };
  const set = (list: FakeCard[]): void => {
    const entries = list.map((c) => ({ ...c, as: deviceFor(c.loop) }));
    writeFileSync(configPath, JSON.stringify(entries));
  };
  set(cards);
  const script = `#!${process.execPath}
const { execFileSync } = require('child_process');
const { readFileSync } = require('fs');
const args = process.argv.slice(2);
let out;
try { out = execFileSync(${JSON.stringify(realLsblk)}, args, { encoding: 'utf8', maxBuffer: 64 << 20 }); }
catch (e) { process.stderr.write(e.stderr || String(e)); process.exit(e.status || 1); }
if (!args.includes('--json')) { process.stdout.write(out); process.exit(0); }
const cards = JSON.parse(readFileSync(${JSON.stringify(configPath)}, 'utf8'));
let parent = '';
try { parent = readFileSync('/proc/' + process.ppid + '/cmdline', 'utf8'); } catch {}
const inBroker = parent.includes('--token-file=');
const data = JSON.parse(out);
for (const node of data.blockdevices || []) {
  const card = cards.find((c) => [node.name, node.kname, node.path].includes(c.loop) || [node.name, node.kname, node.path].includes(c.loop.replace('/dev/', '')));
  if (!card) continue;
  const removable = card.removable !== false;
  node.name = card.as; node.kname = card.as; node.path = card.as;
  node.rm = removable; node.hotplug = removable; node.tran = card.tran || 'usb';
  node.type = 'disk'; node.subsystems = 'block:scsi:usb:pci';
  node.serial = inBroker && card.brokerSerial !== undefined ? card.brokerSerial : card.serial === undefined ? 'ATLAS-TEST-0001' : card.serial;
  node.model = card.model || 'Test SD Reader'; node.vendor = 'Atlas';
  node.ro = Boolean(card.readOnly);
  if (card.holdsRoot) {
    node.children = [...(node.children || []), { name: card.as + '9', kname: card.as + '9', path: card.as + '9', type: 'part', 'maj:min': '0:0', mountpoint: '/', mountpoints: ['/'], children: undefined }];
  }
}
process.stdout.write(JSON.stringify(data));
`;
  const lsblkPath = join(binDir, 'lsblk');
  writeFileSync(lsblkPath, script);
  chmodSync(lsblkPath, 0o755);
  const brokerLauncher = join(binDir, 'broker-node');
  const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
  writeFileSync(
    brokerLauncher,
    `#!/bin/sh\nexec unshare -m -- /bin/sh -c 'mount --bind "$0" /usr/bin/lsblk && exec "$@"' ${q(lsblkPath)} ${q(process.execPath)} "$@"\n`,
  );
  chmodSync(brokerLauncher, 0o755);
  return {
    binDir,
    path: `${binDir}:${process.env.PATH ?? ''}`,
    script: lsblkPath,
    deviceFor,
    set,
    brokerLauncher,
  };
}
