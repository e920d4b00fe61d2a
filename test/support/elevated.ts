/**
 * The path a person takes: an unprivileged user runs the app's own code, and the helper is elevated through the
 * real pkexec and polkit (scripts/elevation-rig.sh sets those up; .ci/run starts it before the tests).
 *
 * Each run happens in a mount namespace of its own (`unshare -m`), in which the fake lsblk is bind-mounted over
 * /usr/bin/lsblk, so root's helper, whose PATH pkexec resets, sees the test's loop devices as cards too; and the
 * build (out/) and node_modules are bind-mounted under /mnt/atlas, a path every user can reach wherever the
 * checkout lives. Nothing outside the namespace changes.
 */
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, realpathSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import type { AppAsUserInput, AppAsUserOutput, AppJob } from './app-as-user';
import { installFakeLsblk, type FakeLsblk } from './fake-lsblk';
import { attachLoop, type LoopDevice } from './loop';
import { run, scratchDir, shell, tryRun } from './sh';

/** The rig's user whom polkit lets through without a password, and the one it always refuses. */
export const TEST_USER = 'atlas-tester';
export const STRANGER = 'atlas-stranger';

/** Where the build appears inside the namespace. */
export const MOUNTED_ROOT = '/mnt/atlas';

export interface UserIds {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

export function userIds(name: string): UserIds {
  const entry = run('getent', ['passwd', name]).trim().split(':');
  return { name, uid: Number(entry[2]), gid: Number(entry[3]), home: entry[5] ?? '/' };
}

/**
 * The rig must be up: these tests are the elevated path, and a run without them has not tested it (so this
 * throws instead of letting the tests skip).
 */
export function requireElevationRig(): UserIds {
  const r = tryRun('runuser', [
    '-u',
    TEST_USER,
    '--',
    'pkexec',
    '--disable-internal-agent',
    '/usr/bin/id',
    '-u',
  ]);
  if (r.stdout.trim() !== '0') {
    throw new Error(
      `pkexec does not elevate ${TEST_USER} (${r.stderr.trim() || `exit ${r.status}`}): run "bash scripts/elevation-rig.sh start" as root first (.ci/run does).`,
    );
  }
  return userIds(TEST_USER);
}

const outDir = resolve(__dirname, '../..');
const modulesDir = realpathSync(
  existsSync(join(outDir, 'node_modules')) ? join(outDir, 'node_modules') : join(outDir, '../node_modules'),
);

/** A compiled file of this build (`out/…`) as the user sees it inside the namespace. */
export function mounted(pathInOut: string): string {
  const rel = relative(outDir, resolve(pathInOut));
  if (rel.startsWith('..')) throw new Error(`${pathInOut} is not in the build folder ${outDir}`);
  return join(MOUNTED_ROOT, 'out', rel);
}

/** Lets every user through `dir` (a scratch folder made by mkdtemp is 0700). */
export function openUp(...dirs: string[]): void {
  for (const dir of dirs) chmodSync(dir, 0o755);
}

export interface AsUserOptions {
  user?: string;
  /** an executable bind-mounted over /usr/bin/lsblk for this run (the fake from fake-lsblk.ts) */
  lsblk?: string;
  /** added to the user's clean environment (PATH, HOME, LANG) */
  env?: Record<string, string>;
  /** PATH of the user's process (default the usual system folders) */
  path?: string;
}

export interface AsUserResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

const NAMESPACE_SCRIPT = `
set -e
mount --make-rprivate /
mount -t tmpfs -o mode=0755 atlas-elevated /mnt
mkdir -p /mnt/atlas/out /mnt/atlas/node_modules
mount --bind "$ATLAS_OUT_DIR" /mnt/atlas/out
mount --bind "$ATLAS_MODULES_DIR" /mnt/atlas/node_modules
if [ -n "$ATLAS_FAKE_LSBLK" ]; then mount --bind "$ATLAS_FAKE_LSBLK" /usr/bin/lsblk; fi
cd /
user=$1; shift
exec runuser -u "$user" -- "$@"
`;

/** Runs `argv` as the user, in a mount namespace of its own; resolves when it exits (never rejects). */
export function runAsUser(argv: string[], options: AsUserOptions = {}): Promise<AsUserResult> {
  const user = userIds(options.user ?? TEST_USER);
  const env = {
    PATH: options.path ?? '/usr/local/bin:/usr/bin:/bin',
    HOME: user.home,
    LANG: 'C.UTF-8',
    ...options.env,
  };
  const command = [
    'unshare',
    '-m',
    'bash',
    '-c',
    NAMESPACE_SCRIPT,
    'atlas-elevated',
    user.name,
    '/usr/bin/env',
    '-i',
    ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
    ...argv,
  ];
  return new Promise((resolvePromise) => {
    const child = spawn(command[0]!, command.slice(1), {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
        ATLAS_OUT_DIR: outDir,
        ATLAS_MODULES_DIR: modulesDir,
        ATLAS_FAKE_LSBLK: options.lsblk ?? '',
      },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (status) => resolvePromise({ status, stdout, stderr }));
  });
}

/** Runs a compiled script of this build (`out/…`) with Node, as the user. */
export function runScriptAsUser(
  script: string,
  args: string[],
  options: AsUserOptions = {},
): Promise<AsUserResult> {
  return runAsUser([process.execPath, mounted(script), ...args], options);
}

/** A person with an Armbian-like image in their own folder, and a card (a loop device the fake lsblk presents). */
export interface PersonWithCard {
  user: UserIds;
  /** the scratch folder (open to everyone) */
  dir: string;
  /** the person's own folder, holding `image` */
  home: string;
  image: string;
  imageBytes: number;
  loop: LoopDevice;
  fake: FakeLsblk;
  /** the card as the drive list names it */
  card: string;
  cleanup(): void;
}

export function personWithCard(
  prefix: string,
  serial: string,
  options: { imgMib?: number; cardMib?: number; xz?: boolean } = {},
): PersonWithCard {
  const user = requireElevationRig();
  const { dir, cleanup } = scratchDir(prefix);
  openUp(dir);
  const home = join(dir, 'home');
  mkdirSync(home);
  const imgMib = options.imgMib ?? 128;
  const image = join(home, 'golden.img');
  shell(`IMG_MIB=${imgMib} FAT_MIB=64 EXTRA_MIB=16 bash test/fixtures/make-armbian-image.sh ${image}`);
  if (options.xz) shell(`xz -T0 -1 -k ${image}`);
  for (const p of [home, image, ...(options.xz ? [`${image}.xz`] : [])]) chownSync(p, user.uid, user.gid);
  shell(`truncate -s ${options.cardMib ?? 160}M ${join(dir, 'card.bin')}`);
  const loop = attachLoop(join(dir, 'card.bin'), { partitions: false });
  const fake = installFakeLsblk(dir, [{ loop: loop.device, serial }]);
  return {
    user,
    dir,
    home,
    image,
    imageBytes: imgMib * 1024 * 1024,
    loop,
    fake,
    card: fake.deviceFor(loop.device),
    cleanup: () => {
      loop.detach();
      cleanup();
    },
  };
}

/**
 * Runs one job through the app's handlers and production wiring as `who` (app-as-user.ts), with the card's fake
 * lsblk bind-mounted for them and for root's helper; resolves with what the app reported.
 */
export async function appAsUser(
  fixture: PersonWithCard,
  job: AppJob,
  options: { who?: string; electron?: string; path?: string } = {},
): Promise<AppAsUserOutput> {
  const who = userIds(options.who ?? fixture.user.name);
  const configDir = join(fixture.dir, `config-${who.name}`);
  mkdirSync(configDir, { recursive: true });
  chownSync(configDir, who.uid, who.gid);
  const input: AppAsUserInput = {
    configDir,
    homeDir: fixture.home,
    ...(options.electron ? { electron: options.electron } : {}),
    run: job,
  };
  const r = await runScriptAsUser(join(__dirname, 'app-as-user.js'), [JSON.stringify(input)], {
    user: who.name,
    lsblk: fixture.fake.script,
    ...(options.path ? { path: options.path } : {}),
  });
  const line = r.stdout.split('\n').find((l) => l.startsWith('OUTCOME '));
  if (!line) throw new Error(`no outcome (exit ${r.status}): ${r.stderr}${r.stdout}`);
  return JSON.parse(line.slice('OUTCOME '.length)) as AppAsUserOutput;
}
