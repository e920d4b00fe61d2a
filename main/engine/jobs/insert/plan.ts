/**
 * What Insert writes into the base's root filesystem — the three Atlas files, golden-release, the links that
 * enable the service — as ext4 operations (step 3), and the read-back that checks them from a fresh,
 * read-only session (step 4).
 */
import { basename, posix } from 'node:path';
import { AtlasError } from '../../errors';
import { withExt4, type Ext4Op } from '../../fs/ext4-inject';
import { VERSION } from '../../version';
import { goldenReleaseText, RELEASE_KEYS as K } from '../../library/lineage';
import type { ArmbianInspection } from './armbian';
import type { CheckedInputs } from './inputs';

export type InsertFileRole = 'firstboot' | 'service' | 'enable' | 'secrets' | 'golden-release';

export interface PlannedFile {
  role: Exclude<InsertFileRole, 'enable'>;
  destination: string;
  data: Buffer;
  mode: number;
  /** the file it was read from (not for the secrets, nor for generated files) */
  source?: string;
}

export interface PlannedLink {
  destination: string;
  target: string;
}

export interface InjectionPlan {
  /** the creation time, as golden-release and the manifest record it */
  created: string;
  files: PlannedFile[];
  links: PlannedLink[];
  ops: Ext4Op[];
  /** the files' bytes, for the progress of injecting and verifying */
  injectBytes: number;
}

/** Everything injected belongs to root (uid 0, gid 0), as if installed on the device. */
const ROOT = { uid: 0, gid: 0 } as const;

/** The injection for a recognised base. `now` is the creation time (tests fix it). */
export function planInjection(inputs: CheckedInputs, base: ArmbianInspection, now: Date): InjectionPlan {
  const dest = inputs.destinations;
  const created = now.toISOString().replace(/\.\d{3}Z$/, 'Z');
  const releaseData = goldenReleaseText({
    [K.phase]: '0',
    [K.name]: inputs.name,
    [K.version]: String(inputs.version),
    [K.patch]: String(inputs.patch),
    [K.tag]: inputs.tag,
    // the base's hash is in the manifest only: the files go in without waiting for it
    [K.baseImage]: inputs.baseName,
    [K.armbianVersion]: base.version,
    [K.created]: created,
    [K.imagerVersion]: VERSION,
    // the root's mount fingerprint, which libext2fs's writes leave as it is: Clone's Phase rule compares it
    [K.mountCount]: String(base.rootMounts.mountCount),
    [K.lastMount]: String(base.rootMounts.lastMountTime),
  });
  const files: PlannedFile[] = [
    {
      role: 'firstboot',
      destination: dest.firstboot,
      data: inputs.script.data,
      mode: 0o755,
      source: basename(inputs.script.path),
    },
    {
      role: 'service',
      destination: dest.service,
      data: inputs.service.data,
      mode: 0o644,
      source: basename(inputs.service.path),
    },
    { role: 'secrets', destination: dest.secrets, data: inputs.secrets.data, mode: 0o600 },
    { role: 'golden-release', destination: dest.goldenRelease, data: releaseData, mode: 0o644 },
  ];
  const unitName = posix.basename(dest.service);
  const links = inputs.targets.map((t) => ({
    destination: `/etc/systemd/system/${t}.wants/${unitName}`,
    target: dest.service,
  }));
  const ops: Ext4Op[] = [];
  const dirs = new Set([
    ...files.map((f) => posix.dirname(f.destination)),
    ...links.map((l) => posix.dirname(l.destination)),
  ]);
  for (const dir of dirs) ops.push({ op: 'mkdirp', path: dir, mode: 0o755, ...ROOT });
  for (const f of files)
    ops.push({ op: 'writeFile', path: f.destination, data: f.data, mode: f.mode, ...ROOT });
  for (const l of links)
    ops.push({ op: 'symlink', path: l.destination, target: l.target, replace: true, ...ROOT });
  const injectBytes = files.reduce((n, f) => n + f.data.length, 0);
  return { created, files, links, ops, injectBytes };
}

/**
 * Reads every injected file and link back from `image` in a fresh, read-only session and compares content,
 * type, mode and owner with the plan; VERIFY_MISMATCH names the first that differs.
 */
export async function readBack(
  image: string,
  rootOffset: number,
  plan: InjectionPlan,
  signal?: AbortSignal | undefined,
): Promise<void> {
  const { files, links } = plan;
  const checks: Ext4Op[] = [
    ...files.flatMap((f): Ext4Op[] => [
      { op: 'readFile', path: f.destination },
      { op: 'stat', path: f.destination },
    ]),
    ...links.flatMap((l): Ext4Op[] => [
      { op: 'readlink', path: l.destination },
      { op: 'stat', path: l.destination },
    ]),
  ];
  const results = await withExt4(image, { offset: rootOffset, ...(signal ? { signal } : {}) }, (ext4) =>
    ext4.run(checks),
  );
  const mismatch = (what: string): AtlasError =>
    new AtlasError('VERIFY_MISMATCH', `Read-back of ${what} in ${image} does not match what was written.`, {
      path: what,
    });
  files.forEach((f, i) => {
    const data = results[2 * i] as Uint8Array;
    const st = results[2 * i + 1] as { type: string; mode: number; uid: number; gid: number } | null;
    if (!Buffer.from(data).equals(f.data)) throw mismatch(f.destination);
    if (!st || st.type !== 'file' || st.mode !== f.mode || st.uid !== ROOT.uid || st.gid !== ROOT.gid) {
      throw mismatch(`${f.destination} (mode or owner)`);
    }
  });
  links.forEach((l, i) => {
    const at = 2 * files.length + 2 * i;
    const st = results[at + 1] as { type: string } | null;
    if (results[at] !== l.target || st?.type !== 'symlink') throw mismatch(l.destination);
  });
}
