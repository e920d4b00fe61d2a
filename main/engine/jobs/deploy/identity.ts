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
 *  - Armbian's IMAGE_UUID line dropped (armbian-firstrun appends a new one).
 * Every change is listed, for the card's result and the deployment record.
 */
import { posix } from 'node:path';
import { withExt4, type Ext4Session } from '../../fs/ext4-inject';
import { AtlasError } from '../../errors';
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
  return withExt4(image, session, async (ext4) => {
    const changes: IdentityChange[] = [];
    const note = (path: string, change: string): void => void changes.push({ path, change });
    await resetMachineId(ext4, note);
    await removeHostKeys(ext4, note);
    await armKeyRegeneration(ext4, note);
    await setHostname(ext4, options.hostname, note);
    await dropImageUuid(ext4, note);
    return changes;
  });
}

type Note = (path: string, change: string) => void;

async function resetMachineId(ext4: Ext4Session, note: Note): Promise<void> {
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

async function removeHostKeys(ext4: Ext4Session, note: Note): Promise<void> {
  if ((await ext4.stat('/etc/ssh'))?.type !== 'directory') return;
  const keys = (await ext4.readdir('/etc/ssh')).filter((n) => /^ssh_host_\w+_key(\.pub)?$/.test(n)).sort();
  for (const name of keys) await ext4.unlink(posix.join('/etc/ssh', name));
  if (keys.length) note('/etc/ssh', `removed ${keys.length} SSH host key files (${keys.join(', ')})`);
}

async function armKeyRegeneration(ext4: Ext4Session, note: Note): Promise<void> {
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

async function enable(ext4: Ext4Session, name: string, target: string): Promise<void> {
  await ext4.mkdirp(WANTS);
  await ext4.symlink(target, posix.join(WANTS, name), { replace: true });
}

async function setHostname(ext4: Ext4Session, hostname: string, note: Note): Promise<void> {
  const old = (await ext4.exists('/etc/hostname'))
    ? (await ext4.readFile('/etc/hostname')).toString('utf8').trim()
    : '';
  await ext4.writeFile('/etc/hostname', `${hostname}\n`, { mode: 0o644 });
  note('/etc/hostname', old ? `${old} → ${hostname}` : `set to ${hostname}`);
  const hosts = (await ext4.exists('/etc/hosts')) ? (await ext4.readFile('/etc/hosts')).toString('utf8') : '';
  const escaped = old.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  let text = old ? hosts.replace(new RegExp(`(?<=\\s)${escaped}(?=\\s|$)`, 'gm'), hostname) : hosts;
  if (!/^127\.0\.1\.1\s/m.test(text))
    text = `${text}${text === '' || text.endsWith('\n') ? '' : '\n'}127.0.1.1\t${hostname}\n`;
  if (text !== hosts) {
    await ext4.writeFile('/etc/hosts', text, { mode: 0o644 });
    note('/etc/hosts', `127.0.1.1 names ${hostname}`);
  }
}

async function dropImageUuid(ext4: Ext4Session, note: Note): Promise<void> {
  for (const path of ['/etc/armbian-image-release', '/etc/armbian-release']) {
    if (!(await ext4.exists(path))) continue;
    const text = (await ext4.readFile(path)).toString('utf8');
    const kept = text.split('\n').filter((l) => !/^IMAGE_UUID=/.test(l));
    if (kept.length === text.split('\n').length) continue;
    await ext4.writeFile(path, kept.join('\n'), { mode: 0o644 });
    note(path, 'IMAGE_UUID dropped: armbian-firstrun gives this device its own');
  }
}
