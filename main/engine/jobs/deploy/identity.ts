/**
 * A restored card made a device of its own: a Phase 1 clone carries the identity of the kiosk it was cloned from
 * (its /etc/machine-id, SSH host keys, hostname and Armbian's IMAGE_UUID), and every card restored from it would
 * be a twin: DHCP client-id clashes, known_hosts warnings, enrolment collisions. This re-arms the identity in the
 * root filesystem without mounting it (libext2fs, as Insert does, so it works on a Mac too):
 *
 *  - /etc/machine-id emptied: systemd makes a new one at first boot (an empty file, not a missing one, which
 *    would make systemd treat the boot as a first boot with a read-only /etc);
 *  - the SSH host keys removed, and their regeneration armed: Armbian's armbian-firstrun re-enabled with
 *    OPENSSHD_REGENERATE_HOST_KEYS=true (docs/armbian-rpi4b.md §3), or where the image has no armbian-firstrun, a
 *    small unit of ours that runs `ssh-keygen -A` before sshd;
 *  - the hostname set in /etc/hostname and /etc/hosts;
 *  - Armbian's IMAGE_UUID line dropped (armbian-firstrun appends a new one);
 *  - the seeds, keys, DHCP leases and client IDs systemd, NetworkManager and dhcpcd keep for the device removed
 *    (they are made again).
 * Every change is listed, for the card's result and the deployment record, and everything written, linked or
 * removed is read back from the card once the session is closed and synced.
 */
import { posix } from 'node:path';
import { withExt4, type Ext4Result, type Ext4Session, type Ext4Stat } from '../../fs/ext4-inject';
import { AtlasError, isAtlasError } from '../../errors';
import { isValidHostname } from '../../../shared/hostnames';

export interface IdentityChange {
  path: string;
  /** a short sentence: what was done there */
  change: string;
}

export interface RearmOptions {
  hostname: string;
  /** work on this open descriptor of the card (the helper's) instead of opening `image` */
  fd?: number;
  /** `fd` is O_DIRECT: I/O in whole aligned units of this many bytes */
  directUnit?: number;
  signal?: AbortSignal | undefined;
}

const FIRSTRUN_UNITS = [
  '/usr/lib/systemd/system/armbian-firstrun.service',
  '/lib/systemd/system/armbian-firstrun.service',
];
const FIRSTRUN_DEFAULTS = '/etc/default/armbian-firstrun';
const WANTS = '/etc/systemd/system/multi-user.target.wants';
export const KEYGEN_UNIT = '/etc/systemd/system/atlas-ssh-host-keys.service';
const KEYGEN_UNIT_TEXT = `# Atlas Imager: this card was deployed from a clone without SSH host keys; make its own before sshd starts.
[Unit]
Description=Make this device's own SSH host keys (Atlas Imager deploy)
Before=ssh.service sshd.service
ConditionPathExistsGlob=!/etc/ssh/ssh_host_*_key

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A

[Install]
WantedBy=multi-user.target
`;

/** Re-arms the identity of the root filesystem at byte `rootOffset` of `image` (a card or an image file). */
export async function rearmIdentity(
  image: string,
  rootOffset: number,
  options: RearmOptions,
): Promise<IdentityChange[]> {
  if (!isValidHostname(options.hostname)) {
    throw new AtlasError('INVALID_ARGUMENT', `"${options.hostname}" is not a hostname.`);
  }
  const session = {
    offset: rootOffset,
    write: true,
    ...(options.fd !== undefined ? { fd: options.fd } : {}),
    ...(options.directUnit !== undefined ? { directUnit: options.directUnit } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  };
  const ledger: Ledger = { files: new Map(), links: new Map(), removed: new Set() };
  const changes = await withExt4(image, session, async (ext4) => {
    const card = recording(ext4, ledger);
    const done: IdentityChange[] = [];
    const note = (path: string, change: string): void => void done.push({ path, change });
    await resetMachineId(card, note);
    await removeHostKeys(card, note);
    await armKeyRegeneration(card, note);
    await setHostname(card, options.hostname, note);
    await dropImageUuid(card, note);
    await removeDeviceState(card, note);
    return done;
  });
  // closed and synced: read back from the card in a session of its own (the helper's descriptor is O_DIRECT, so
  // from the medium), as Insert reads back what it writes
  await withExt4(image, { ...session, write: false }, (ext4) => readBack(ext4, ledger, image));
  return changes;
}

/** What a re-arm wrote, linked and removed, to read back. */
interface Ledger {
  files: Map<string, Buffer>;
  links: Map<string, string>;
  removed: Set<string>;
}

/** The session's calls a re-arm makes, its writes kept in `ledger` (the last write of a path wins). */
type Card = Pick<
  Ext4Session,
  'stat' | 'exists' | 'readFile' | 'readdir' | 'mkdirp' | 'writeFile' | 'symlink' | 'unlink'
> & {
  /** lstat of several paths in one trip to the worker */
  statAll(paths: readonly string[]): Promise<Array<Ext4Stat | null>>;
};

function recording(ext4: Ext4Session, ledger: Ledger): Card {
  return {
    stat: (path) => ext4.stat(path),
    statAll: async (paths) =>
      (await ext4.run(paths.map((path) => ({ op: 'stat' as const, path })))) as Array<Ext4Stat | null>,
    exists: (path) => ext4.exists(path),
    readFile: (path) => ext4.readFile(path),
    readdir: (path) => ext4.readdir(path),
    mkdirp: (path, options) => ext4.mkdirp(path, options),
    async writeFile(path, data, options) {
      await ext4.writeFile(path, data, options);
      ledger.files.set(path, Buffer.from(data));
      ledger.links.delete(path);
      ledger.removed.delete(path);
    },
    async symlink(target, path, options) {
      await ext4.symlink(target, path, options);
      ledger.links.set(path, target);
      ledger.files.delete(path);
      ledger.removed.delete(path);
    },
    async unlink(path) {
      await ext4.unlink(path);
      ledger.files.delete(path);
      ledger.links.delete(path);
      ledger.removed.add(path);
    },
  };
}

/** The ledger read back in one batch (one trip to the worker): every file's bytes, every link, every removal. */
async function readBack(ext4: Ext4Session, ledger: Ledger, image: string): Promise<void> {
  const differs = (path: string, what: string): AtlasError =>
    new AtlasError(
      'VERIFY_MISMATCH',
      `${path} on ${image} does not read back as it was written when re-arming the card (${what}). The card or the reader may be faulty; try another.`,
      { device: image, path },
    );
  const files = [...ledger.files];
  const links = [...ledger.links];
  const removed = [...ledger.removed];
  let results: Ext4Result[];
  try {
    results = await ext4.run([
      ...files.map(([path]) => ({ op: 'readFile' as const, path })),
      ...links.map(([path]) => ({ op: 'readlink' as const, path })),
      ...removed.map((path) => ({ op: 'exists' as const, path })),
    ]);
  } catch (error) {
    // a file or link missing, or of another kind, where it was written; anything else (a card pulled out, a
    // cancel) is what it is
    const path = isAtlasError(error) ? (error.details as { path?: unknown }).path : undefined;
    const written = typeof path === 'string' && (ledger.files.has(path) || ledger.links.has(path));
    if (written && isAtlasError(error) && (error.code === 'NOT_FOUND' || error.code === 'INVALID_ARGUMENT')) {
      throw differs(path, `it cannot be read back: ${error.message}`);
    }
    throw error;
  }
  files.forEach(([path, data], k) => {
    if (!Buffer.from(results[k] as Uint8Array).equals(data)) throw differs(path, 'other content');
  });
  links.forEach(([path, target], k) => {
    if (results[files.length + k] !== target) throw differs(path, 'the link points elsewhere');
  });
  removed.forEach((path, k) => {
    if (results[files.length + links.length + k] === true) throw differs(path, 'it is still there');
  });
}

type Note = (path: string, change: string) => void;

async function resetMachineId(ext4: Card, note: Note): Promise<void> {
  const path = '/etc/machine-id';
  const st = await ext4.stat(path);
  if (st?.type === 'file' && st.size > 0) {
    await ext4.writeFile(path, '', { mode: st.mode, uid: st.uid, gid: st.gid });
    note(path, 'emptied: systemd makes a new machine ID at first boot');
  } else if (!st) {
    await ext4.writeFile(path, '', { mode: 0o444 });
    note(path, 'created empty: systemd makes a new machine ID at first boot');
  }
  // D-Bus keeps its own copy where it is not a link to /etc/machine-id
  const dbus = '/var/lib/dbus/machine-id';
  const copy = await ext4.stat(dbus);
  if (copy?.type === 'file' && copy.size > 0) {
    await ext4.unlink(dbus);
    note(dbus, 'removed: D-Bus takes the new machine ID');
  }
}

async function removeHostKeys(ext4: Card, note: Note): Promise<void> {
  if ((await ext4.stat('/etc/ssh'))?.type !== 'directory') return;
  const keys = (await ext4.readdir('/etc/ssh')).filter((n) => /^ssh_host_\w+_key(\.pub)?$/.test(n)).sort();
  for (const name of keys) await ext4.unlink(posix.join('/etc/ssh', name));
  if (keys.length) note('/etc/ssh', `removed ${keys.length} SSH host key files (${keys.join(', ')})`);
}

async function armKeyRegeneration(ext4: Card, note: Note): Promise<void> {
  let firstrun: string | null = null;
  for (const unit of FIRSTRUN_UNITS) if (await ext4.exists(unit)) firstrun ??= unit;
  if (firstrun) {
    const old = (await ext4.exists(FIRSTRUN_DEFAULTS))
      ? (await ext4.readFile(FIRSTRUN_DEFAULTS)).toString('utf8')
      : '';
    const kept = old.split('\n').filter((l) => l !== '' && !/^\s*OPENSSHD_REGENERATE_HOST_KEYS=/.test(l));
    await ext4.mkdirp('/etc/default');
    await ext4.writeFile(
      FIRSTRUN_DEFAULTS,
      `${[...kept, 'OPENSSHD_REGENERATE_HOST_KEYS=true'].join('\n')}\n`,
      {
        mode: 0o644,
      },
    );
    note(FIRSTRUN_DEFAULTS, 'OPENSSHD_REGENERATE_HOST_KEYS=true: armbian-firstrun makes new SSH host keys');
    await enable(ext4, 'armbian-firstrun.service', firstrun);
    note(posix.join(WANTS, 'armbian-firstrun.service'), 'armbian-firstrun enabled for the next boot');
    return;
  }
  await ext4.writeFile(KEYGEN_UNIT, KEYGEN_UNIT_TEXT, { mode: 0o644 });
  await enable(ext4, posix.basename(KEYGEN_UNIT), KEYGEN_UNIT);
  note(KEYGEN_UNIT, 'added and enabled: makes new SSH host keys at first boot (no armbian-firstrun here)');
}

async function enable(ext4: Card, name: string, target: string): Promise<void> {
  await ext4.mkdirp(WANTS);
  await ext4.symlink(target, posix.join(WANTS, name), { replace: true });
}

async function setHostname(ext4: Card, hostname: string, note: Note): Promise<void> {
  const old = (await ext4.exists('/etc/hostname'))
    ? (await ext4.readFile('/etc/hostname')).toString('utf8').trim()
    : '';
  await ext4.writeFile('/etc/hostname', `${hostname}\n`, { mode: 0o644 });
  note('/etc/hostname', old ? `${old} → ${hostname}` : `set to ${hostname}`);
  const hosts = (await ext4.exists('/etc/hosts')) ? (await ext4.readFile('/etc/hosts')).toString('utf8') : '';
  const text = renameInHosts(hosts, old, hostname);
  if (text !== hosts) {
    await ext4.writeFile('/etc/hosts', text, { mode: 0o644 });
    note('/etc/hosts', `127.0.1.1 names ${hostname}`);
  }
}

/**
 * /etc/hosts with the old hostname renamed: the name itself on every entry (any case; never `localhost`, which is
 * not the kiosk's name), and its FQDNs on Debian's 127.0.1.1 entry (kiosk-src.lan → atlas-007.lan; elsewhere a
 * name that starts like it is another host's), comments left alone; then the 127.0.1.1 entry names the new
 * hostname (added when missing; its names replaced when they are not the new name's, as after an image whose
 * /etc/hostname was empty).
 */
export function renameInHosts(hosts: string, old: string, hostname: string): string {
  const escaped = old.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const rename = old !== '' && old.toLowerCase() !== 'localhost';
  const LOCAL = /^\s*127\.0\.1\.1\s/;
  const lines = hosts.split('\n').map((line) => {
    const [entry = '', ...comment] = line.split('#');
    const name = new RegExp(`(?<=\\s)${escaped}(?=${LOCAL.test(entry) ? '[.\\s]' : '\\s'}|$)`, 'gi');
    const renamed = rename ? entry.replace(name, hostname) : entry;
    return [renamed, ...comment].join('#');
  });
  const names = (line: string): string[] => (line.split('#')[0] ?? '').trim().split(/\s+/).slice(1);
  const local = lines.findIndex((l) => LOCAL.test(l));
  if (local < 0) {
    const body = lines.join('\n');
    return `${body}${body === '' || body.endsWith('\n') ? '' : '\n'}127.0.1.1\t${hostname}\n`;
  }
  const own = names(lines[local]!);
  if (!own.some((n) => n === hostname || n.startsWith(`${hostname}.`))) {
    // "127.0.1.1  rpi4b.lan rpi4b": the new name, with the domain the entry's first name had
    const domain = own[0]?.includes('.') ? own[0].slice(own[0].indexOf('.')) : '';
    lines[local] = `127.0.1.1\t${domain ? `${hostname}${domain} ` : ''}${hostname}`;
  }
  return lines.join('\n');
}

/**
 * State a booted kiosk keeps that another device must not share: seeds, keys and leases systemd and NetworkManager
 * make again when they are missing. The DHCP leases would have each card ask for the source kiosk's address;
 * NetworkManager's secret_key (with the machine ID) derives its stable IPv6 addresses and DHCP client IDs.
 */
const DEVICE_STATE: Array<{ path: string; why: string }> = [
  { path: '/var/lib/systemd/random-seed', why: 'systemd seeds this device from its own randomness' },
  { path: '/var/lib/systemd/credential.secret', why: 'systemd makes this device its own credential key' },
  { path: '/etc/dhcpcd.duid', why: 'dhcpcd makes this device its own DHCP client ID' },
  {
    path: '/var/lib/NetworkManager/secret_key',
    why: 'NetworkManager makes this device its own (its stable addresses and DHCP client IDs come from it)',
  },
];
const LEASE_FOLDERS: Array<{ folder: string; name: RegExp }> = [
  { folder: '/var/lib/NetworkManager', name: /\.lease$/ },
  { folder: '/var/lib/dhcp', name: /\.leases?$/ },
  { folder: '/var/lib/dhclient', name: /\.leases?$/ },
  // dhcpcd (older Raspberry Pi OS and some Armbian builds): its leases, and its DUID, the DHCP client ID itself
  { folder: '/var/lib/dhcpcd', name: /\.lease6?$|^duid$/ },
];

async function removeDeviceState(ext4: Card, note: Note): Promise<void> {
  const found = await ext4.statAll([
    ...DEVICE_STATE.map((d) => d.path),
    ...LEASE_FOLDERS.map((l) => l.folder),
  ]);
  for (const [k, { path, why }] of DEVICE_STATE.entries()) {
    if (found[k]?.type !== 'file') continue;
    await ext4.unlink(path);
    note(path, `removed: ${why}`);
  }
  for (const [k, { folder, name }] of LEASE_FOLDERS.entries()) {
    if (found[DEVICE_STATE.length + k]?.type !== 'directory') continue;
    const names = (await ext4.readdir(folder)).filter((n) => name.test(n)).sort();
    const paths = names.map((n) => posix.join(folder, n));
    const kinds = await ext4.statAll(paths);
    const leases = names.filter((_, i) => kinds[i]?.type === 'file');
    for (const lease of leases) await ext4.unlink(posix.join(folder, lease));
    if (leases.length) note(folder, `removed the source kiosk's DHCP client state (${leases.join(', ')})`);
  }
}

async function dropImageUuid(ext4: Card, note: Note): Promise<void> {
  for (const path of ['/etc/armbian-image-release', '/etc/armbian-release']) {
    if (!(await ext4.exists(path))) continue;
    const text = (await ext4.readFile(path)).toString('utf8');
    const kept = text.split('\n').filter((l) => !/^IMAGE_UUID=/.test(l));
    if (kept.length === text.split('\n').length) continue;
    await ext4.writeFile(path, kept.join('\n'), { mode: 0o644 });
    note(path, 'IMAGE_UUID dropped: armbian-firstrun gives this device its own');
  }
}
