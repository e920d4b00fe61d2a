/**
 * Phase 0 Insert on the project's Armbian-like image, with the real tools as the oracle: e2fsck -fn, debugfs
 * (modes, owners, contents, link targets), sfdisk (partition table), sha256 of the base before and after.
 */
import test, { after, afterEach, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statfsSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import {
  GOLDEN_IMAGE_MODE,
  insertJob,
  prehashBase,
  SECRETS_KEY_FILE,
  type InsertOptions,
  type InsertResult,
  type ManifestFile,
} from '../../main/engine/jobs/insert';
import { isAtlasError, type AtlasErrorCode } from '../../main/engine/errors';
import { readJobLog } from '../../main/engine/library/job-log';
import { run, scratchDir, shell } from '../support/sh';
import { fixtureOffsets, makeArmbianImage } from '../support/armbian';
import { e2fsckClean as e2fsckCleanAt } from '../support/assert';

const BASE_NAME = 'Armbian_26.2.1_Rpi4b_trixie_current_6.18.9_minimal.img';
const NOW = new Date('2026-03-01T12:00:00Z');
const SECRET = 'ATLAS_ENROLL_TOKEN=do-not-print-7f3a9c\n';
const SCRIPT = '#!/bin/bash\nset -euo pipefail\necho "atlas firstboot"\n';
const UNIT = [
  '[Unit]',
  'Description=ODS Atlas first boot',
  'ConditionPathExists=!/var/lib/atlas/provisioned',
  '',
  '[Service]',
  'Type=oneshot',
  'ExecStart=/usr/local/sbin/atlas_firstboot.sh',
  '',
  '[Install]',
  'WantedBy=multi-user.target',
  '',
].join('\n');

let dir: string;
let cleanup: () => void;
let base: string;
let baseSha: string;
let inputs: { firstboot: string; service: string; secrets: string };
let rawResult: InsertResult;
/** what the first insert put into its image, as debugfs reads it (a later test replaces that image) */
let rawInjected: Record<string, string>;

const sha = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');
const ROOT = fixtureOffsets().root;
const debugfs = (img: string, request: string, root = ROOT): string =>
  run('debugfs', ['-R', request, `${img}?offset=${root}`]);

function writeInput(name: string, text: string, mode = 0o644): string {
  const path = join(dir, 'in', name);
  writeFileSync(path, text);
  chmodSync(path, mode);
  return path;
}

function options(outDir: string, extra: Partial<InsertOptions> = {}): InsertOptions {
  return { base, ...inputs, version: 8, patch: 1, tag: 'TEST', outDir, now: NOW, ...extra };
}

function freshOut(name: string): string {
  const out = join(dir, name);
  mkdirSync(out, { recursive: true });
  return out;
}

/** sfdisk's view of the table, without the device names (which carry the file name). */
function table(img: string): unknown {
  const t = JSON.parse(run('sfdisk', ['--json', img])) as {
    partitiontable: {
      label: string;
      id: string;
      partitions: Array<{ start: number; size: number; type: string }>;
    };
  };
  const { label, id, partitions } = t.partitiontable;
  return { label, id, partitions: partitions.map(({ start, size, type }) => ({ start, size, type })) };
}

function region(img: string, offset: number, length: number): string {
  return shell(
    `dd if=${img} bs=1M skip=${offset / 1048576} count=${length / 1048576} status=none | sha256sum`,
  );
}

const e2fsckClean = (img: string): void => e2fsckCleanAt(img, ROOT);

/** The injected files as debugfs reads them: the oracle for "the same result". */
function injected(img: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const path of [
    '/usr/local/sbin/atlas_firstboot.sh',
    '/etc/systemd/system/atlas-firstboot.service',
    '/etc/atlas/atlas_secrets.conf',
  ]) {
    out[path] = debugfs(img, `cat ${path}`);
    out[`${path} stat`] = /Mode: +\d+/.exec(debugfs(img, `stat ${path}`))![0];
  }
  out.link = /Fast link dest: .*/.exec(
    debugfs(img, 'stat /etc/systemd/system/multi-user.target.wants/atlas-firstboot.service'),
  )![0];
  return out;
}

/** The permission bits of `path`, or -1 when there is nothing there. */
function modeIfAny(path: string): number {
  try {
    return statSync(path).mode & 0o777;
  } catch {
    return -1;
  }
}

/** The secrets' HMAC as openssl computes it with the build folder's key: the manifest's check, by hand. */
function opensslHmac(buildDir: string, file: string): string {
  const key = readFileSync(join(buildDir, SECRETS_KEY_FILE), 'utf8').trim();
  const line = run('openssl', ['dgst', '-sha256', '-mac', 'HMAC', '-macopt', `hexkey:${key}`, file]);
  return line.trim().split('= ').at(-1)!;
}

function assertNothingLeft(outDir: string): void {
  assert.deepEqual(
    readdirSync(outDir).filter((f) => f.startsWith('ods-atlas-golden')),
    [],
    `${outDir} should hold no output, partial or manifest`,
  );
}

before(() => {
  ({ dir, cleanup } = scratchDir('atlas-insert-'));
  mkdirSync(join(dir, 'in'));
  base = makeArmbianImage(join(dir, BASE_NAME));
  baseSha = sha(base);
  inputs = {
    firstboot: writeInput('atlas_firstboot.sh', SCRIPT, 0o755),
    service: writeInput('atlas-firstboot.service', UNIT),
    secrets: writeInput('atlas_secrets.conf', SECRET, 0o600),
  };
});
after(() => cleanup());
// every test, whatever it did or refused, leaves the base as it was
afterEach(() => assert.equal(sha(base), baseSha, 'the base image must not change'));

test('insert into a raw base: files, modes, owner, link; e2fsck clean; base untouched; manifest', async () => {
  const out = freshOut('raw');
  const stages = new Set<string>();
  const partialModes = new Set<number>();
  rawResult = await insertJob(options(out), {
    onProgress: (p) => {
      stages.add(p.stage);
      partialModes.add(modeIfAny(`${join(out, 'ods-atlas-golden-v8-1-TEST.img')}.partial`));
    },
  });
  const img = join(out, 'ods-atlas-golden-v8-1-TEST.img');
  assert.equal(rawResult.output, img);
  assert.deepEqual(
    readdirSync(out)
      .filter((f) => !f.startsWith('.'))
      .sort(),
    ['ods-atlas-golden-v8-1-TEST.img', 'ods-atlas-golden-v8-1-TEST.manifest.json'],
  );
  // on Linux GNU cp copies (reflinking where it can: see the XFS test)
  assert.equal(rawResult.copyMethod, 'copy');
  for (const stage of ['checking', 'copying', 'injecting', 'verifying']) assert.ok(stages.has(stage), stage);
  // the image holds the secrets: its owner's alone, from the claim of the partial to the end
  partialModes.delete(-1);
  assert.deepEqual([...partialModes], [GOLDEN_IMAGE_MODE], 'the partial was 0600 whenever it existed');
  assert.equal(modeIfAny(img), 0o600);
  assert.deepEqual(rawResult.warnings, []);
  assert.equal(sha(base), baseSha, 'the base must not change');

  e2fsckClean(img);
  rawInjected = injected(img);
  const script = debugfs(img, 'stat /usr/local/sbin/atlas_firstboot.sh');
  assert.match(script, /Type: regular +Mode: +0755/);
  assert.match(script, /User: +0 +Group: +0/);
  assert.match(
    debugfs(img, 'stat /etc/systemd/system/atlas-firstboot.service'),
    /Type: regular +Mode: +0644/,
  );
  const secrets = debugfs(img, 'stat /etc/atlas/atlas_secrets.conf');
  assert.match(secrets, /Type: regular +Mode: +0600/);
  assert.match(secrets, /User: +0 +Group: +0/);
  assert.equal(debugfs(img, 'cat /usr/local/sbin/atlas_firstboot.sh'), SCRIPT);
  assert.equal(debugfs(img, 'cat /etc/systemd/system/atlas-firstboot.service'), UNIT);
  assert.equal(debugfs(img, 'cat /etc/atlas/atlas_secrets.conf'), SECRET);
  assert.match(
    debugfs(img, 'stat /etc/systemd/system/multi-user.target.wants/atlas-firstboot.service'),
    /Type: symlink[\s\S]*Fast link dest: "\/etc\/systemd\/system\/atlas-firstboot.service"/,
  );
  const release = debugfs(img, 'cat /etc/atlas/golden-release');
  assert.match(release, /^GOLDEN_VERSION=8$/m);
  assert.match(release, /^GOLDEN_PATCH=1$/m);
  assert.match(release, /^GOLDEN_TAG=TEST$/m);
  assert.match(release, new RegExp(`^BASE_IMAGE=${BASE_NAME}$`, 'm'));
  assert.match(release, /^CREATED=2026-03-01T12:00:00Z$/m);
  // the existing Armbian units are untouched
  assert.match(debugfs(img, 'cat /etc/armbian-release'), /^BOARD=rpi4b$/m);

  // the rest of the image is the base's: same table, same FAT partition bytes
  assert.deepEqual(table(img), table(base));
  const { boot } = rawResult.base;
  assert.equal(region(img, boot.offset, boot.size), region(base, boot.offset, boot.size));

  const text = readFileSync(join(out, 'ods-atlas-golden-v8-1-TEST.manifest.json'), 'utf8');
  assert.ok(!text.includes('do-not-print'), 'the manifest never holds the secrets');
  const manifest = JSON.parse(text);
  assert.deepEqual(manifest, rawResult.manifest);
  assert.equal(manifest.phase, 0);
  assert.equal(manifest.base.name, BASE_NAME);
  assert.equal(manifest.base.sha256, baseSha);
  assert.equal(manifest.created, '2026-03-01T12:00:00Z');
  assert.deepEqual(manifest.base.armbian, {
    version: '26.2.1',
    board: 'rpi4b',
    boardFamily: 'bcm2711',
    release: 'trixie',
    branch: 'current',
    kernel: '6.18.9',
    variant: 'minimal',
  });
  const files = manifest.files as ManifestFile[];
  const byRole = (role: string): ManifestFile => {
    const file = files.find((f) => f.role === role);
    assert.ok(file, `the manifest lists no ${role}`);
    return file;
  };
  assert.equal(byRole('firstboot').mode, '0755');
  assert.equal(byRole('firstboot').sha256, createHash('sha256').update(SCRIPT).digest('hex'));
  assert.equal(byRole('service').mode, '0644');
  // the secrets by a digest keyed per build folder, which openssl reproduces from the key file
  assert.deepEqual(Object.keys(byRole('secrets')).sort(), [
    'destination',
    'gid',
    'hmacKeyFile',
    'hmacSha256',
    'mode',
    'role',
    'type',
    'uid',
  ]);
  assert.equal(byRole('secrets').hmacKeyFile, SECRETS_KEY_FILE);
  assert.equal(byRole('secrets').hmacSha256, opensslHmac(out, inputs.secrets));
  assert.ok(
    !text.includes(createHash('sha256').update(SECRET).digest('hex')),
    'no plain hash of the secrets',
  );
  assert.ok(!text.includes(readFileSync(join(out, SECRETS_KEY_FILE), 'utf8').trim()), 'nor the key');
  assert.equal(modeIfAny(join(out, SECRETS_KEY_FILE)), 0o600);
  assert.equal(byRole('secrets').mode, '0600');
  assert.equal(byRole('enable').target, '/etc/systemd/system/atlas-firstboot.service');
  assert.equal(byRole('golden-release').sha256, createHash('sha256').update(release).digest('hex'));
});

for (const [format, make] of [
  ['xz', (src: string) => (run('xz', ['-T0', '-k', '-1', src]), `${src}.xz`)],
  ['gzip', (src: string) => (run('pigz', ['-k', '-1', src]), `${src}.gz`)],
  ['zip', (src: string) => (shell(`cd ${dir} && zip -q -j ${src}.zip ${src}`), `${src}.zip`)],
] as const) {
  test(`a ${format} base gives the same result as the .img`, async () => {
    const sub = join(dir, `src-${format}`);
    mkdirSync(sub);
    const copy = join(sub, BASE_NAME);
    copyFileSync(base, copy);
    const compressed = make(copy);
    const compressedSha = sha(compressed);
    const out = freshOut(`out-${format}`);
    const result = await insertJob(options(out, { base: compressed }));
    assert.equal(result.copyMethod, 'decompress');
    assert.equal(modeIfAny(result.output), 0o600);
    assert.equal(sha(compressed), compressedSha, 'the base must not change');
    assert.equal(result.manifest.base.format, format);
    assert.equal(result.manifest.base.sha256, compressedSha);
    assert.equal(result.manifest.base.imageSha256, baseSha, 'decompressed bytes = the .img');
    assert.deepEqual(result.manifest.base.armbian, rawResult.manifest.base.armbian);
    // the same files; the secrets' digest is keyed by this build folder's own key
    const same = (files: ManifestFile[]) =>
      files.filter((f) => f.role !== 'golden-release').map(({ hmacSha256: _keyed, ...f }) => f);
    assert.deepEqual(same(result.manifest.files), same(rawResult.manifest.files));
    const secrets = result.manifest.files.find((f) => f.role === 'secrets')!;
    assert.equal(secrets.hmacSha256, opensslHmac(out, inputs.secrets));
    e2fsckClean(result.output);
    assert.deepEqual(table(result.output), table(rawResult.output));
    assert.deepEqual(injected(result.output), rawInjected);
    const { boot } = result.base;
    assert.equal(region(result.output, boot.offset, boot.size), region(base, boot.offset, boot.size));
  });
}

interface Refusal {
  name: string;
  code: AtlasErrorCode;
  message: RegExp;
  options: () => Partial<InsertOptions>;
}

const refusals: Refusal[] = [
  {
    name: 'not an image at all',
    code: 'NOT_ARMBIAN_BASE',
    message: /not a base Armbian image.*no MBR partition table/,
    options: () => {
      const path = join(dir, 'random.img');
      writeFileSync(path, createHash('sha512').update('x').digest().toString('hex').repeat(4096));
      return { base: path };
    },
  },
  {
    name: 'an image without /etc/armbian-release',
    code: 'NOT_ARMBIAN_BASE',
    message: /no \/etc\/armbian-release/,
    options: () => {
      const path = join(dir, 'debian.img');
      copyFileSync(base, path);
      run('debugfs', ['-w', '-R', 'rm /etc/armbian-release', `${path}?offset=${ROOT}`]);
      return { base: path };
    },
  },
  {
    name: 'a golden image (Phase 0 output)',
    code: 'PHASE_RULE',
    message: /^Insert creates Phase 0 from a base image only/,
    options: () => ({ base: rawResult.output, tag: 'AGAIN' }),
  },
  {
    name: 'a clone (firstboot ran and removed itself, golden-release stays)',
    code: 'PHASE_RULE',
    message: /^Insert creates Phase 0 from a base image only.*golden-release/,
    options: () => {
      const extra = join(dir, 'clone-root');
      mkdirSync(join(extra, 'etc/atlas'), { recursive: true });
      writeFileSync(join(extra, 'etc/atlas/golden-release'), 'GOLDEN_VERSION=8\n');
      return { base: makeArmbianImage(join(dir, 'clone.img'), { extraRoot: extra }) };
    },
  },
  {
    name: 'a missing base',
    code: 'NOT_FOUND',
    message: /base image .* does not exist/,
    options: () => ({ base: join(dir, 'nope.img') }),
  },
  {
    name: 'a missing firstboot script',
    code: 'NOT_FOUND',
    message: /firstboot script .* does not exist/,
    options: () => ({ firstboot: join(dir, 'in/nope.sh') }),
  },
  {
    name: 'an empty secrets file',
    code: 'INVALID_ARGUMENT',
    message: /secrets file .* is empty/,
    options: () => ({ secrets: writeInput('empty.conf', '', 0o600) }),
  },
  {
    name: 'a script without a shebang',
    code: 'INVALID_ARGUMENT',
    message: /has no shebang/,
    options: () => ({ firstboot: writeInput('noshebang.sh', 'echo hi\n', 0o755) }),
  },
  {
    name: 'a unit that runs another program',
    code: 'INVALID_ARGUMENT',
    message: /does not run the injected script: ExecStart= runs \/usr\/bin\/true/,
    options: () => ({
      service: writeInput(
        'other.service',
        UNIT.replace('/usr/local/sbin/atlas_firstboot.sh', '/usr/bin/true'),
      ),
    }),
  },
  {
    name: 'a file that is not a service unit',
    code: 'INVALID_ARGUMENT',
    message: /no \[Service\] section/,
    options: () => ({ service: writeInput('timer.timer', '[Unit]\nDescription=x\n[Timer]\nOnBootSec=1\n') }),
  },
  {
    name: 'a unit that cannot be enabled',
    code: 'INVALID_ARGUMENT',
    message: /no WantedBy=/,
    options: () => ({
      service: writeInput('noinstall.service', UNIT.replace('WantedBy=multi-user.target', '')),
    }),
  },
  {
    name: 'a version that is not a whole number',
    code: 'INVALID_ARGUMENT',
    message: /version N must be a whole number from 0 to 9999 \(got 8.5\)/,
    options: () => ({ version: 8.5 }),
  },
  {
    name: 'a tag with a slash',
    code: 'INVALID_ARGUMENT',
    message: /tag "a\/b" cannot be used/,
    options: () => ({ tag: 'a/b' }),
  },
];

for (const refusal of refusals) {
  test(`refuses ${refusal.name}`, async () => {
    const out = freshOut(`refuse-${refusal.name.replace(/\W+/g, '-')}`);
    await assert.rejects(insertJob(options(out, refusal.options())), (error) => {
      assert.ok(isAtlasError(error), String(error));
      assert.equal(error.code, refusal.code, error.message);
      assert.match(error.message, refusal.message);
      assert.ok(!error.message.includes('do-not-print'));
      return true;
    });
    assertNothingLeft(out);
  });
}

test('refuses an existing output unless --force, which replaces it', async () => {
  const out = rawResult.output.replace(/\/[^/]+$/, '');
  const before = sha(rawResult.output);
  const key = readFileSync(join(out, SECRETS_KEY_FILE), 'utf8');
  await assert.rejects(
    insertJob(options(out)),
    (e) => isAtlasError(e, 'ALREADY_EXISTS') && /replace the existing image/.test(e.message),
  );
  assert.equal(sha(rawResult.output), before);
  const secrets = writeInput('secrets2.conf', 'OTHER=1\n', 0o600);
  const result = await insertJob(options(out, { force: true, secrets }));
  assert.equal(debugfs(result.output, 'cat /etc/atlas/atlas_secrets.conf'), 'OTHER=1\n');
  assert.equal(modeIfAny(result.output), 0o600);
  const digest = (r: InsertResult) => r.manifest.files.find((f) => f.role === 'secrets')!.hmacSha256;
  assert.equal(readFileSync(join(out, SECRETS_KEY_FILE), 'utf8'), key, 'one key per build folder, kept');
  assert.equal(digest(result), opensslHmac(out, secrets));
  assert.notEqual(digest(result), digest(rawResult));
  // the second insert from this base took its hash from the build folder's cache: still the right one
  assert.equal(result.manifest.base.sha256, baseSha);
  assert.ok(existsSync(join(out, '.atlas-cache', 'sha256-cache.json')));
  assert.ok(!existsSync(`${result.output}.partial`));
  e2fsckClean(result.output);
});

test('a base hashed ahead (the app starts when it is chosen) serves the insert, also while still running', async () => {
  const ahead = freshOut('prehash');
  assert.equal(await prehashBase(base, ahead), baseSha);
  const cache = JSON.parse(readFileSync(join(ahead, '.atlas-cache', 'sha256-cache.json'), 'utf8')) as {
    entries: Record<string, { sha256: string }>;
  };
  assert.deepEqual(
    Object.values(cache.entries).map((e) => e.sha256),
    [baseSha],
  );
  const result = await insertJob(options(ahead));
  assert.equal(result.manifest.base.sha256, baseSha);

  // an insert that starts while the hash ahead still runs waits for it, and both agree
  const joined = freshOut('prehash-joined');
  const [early, inserted] = await Promise.all([prehashBase(base, joined), insertJob(options(joined))]);
  assert.equal(early, baseSha);
  assert.equal(inserted.manifest.base.sha256, baseSha);
  e2fsckClean(inserted.output);
});

test('a failure inside the image leaves no output, no partial, no manifest', async () => {
  const out = freshOut('midway');
  // /etc/hostname is a file, so the script's folder cannot be made: this fails inside the image, while the
  // copy runs (the injection goes into a copy-on-write view of the base meanwhile) or after it
  const profile = join(dir, 'bad-profile.json');
  writeFileSync(profile, JSON.stringify({ destinations: { firstboot: '/etc/hostname/atlas.sh' } }));
  const service = writeInput(
    'midway.service',
    UNIT.replace('/usr/local/sbin/atlas_firstboot.sh', '/etc/hostname/atlas.sh'),
  );
  const stages: string[] = [];
  await assert.rejects(
    insertJob(options(out, { profile, service }), { onProgress: (p) => stages.push(p.stage) }),
    (e) => isAtlasError(e, 'INVALID_ARGUMENT') && /\/etc\/hostname/.test(e.message),
  );
  assert.ok(stages.includes('checking'), 'it failed after the checks of the inputs');
  assertNothingLeft(out);
});

test('an output folder on a filesystem too small for the copy is refused before anything is written', async () => {
  const small = freshOut('small-fs');
  run('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'atlas-test-small', small]);
  try {
    const before = sha(base);
    await assert.rejects(
      insertJob(options(small)),
      (e) =>
        isAtlasError(e, 'TARGET_TOO_SMALL') &&
        e.message.includes(`Not enough space in ${small}`) &&
        e.message.includes('choose another output folder'),
    );
    assert.deepEqual(readdirSync(small), [], 'no partial, no output, no cache');
    assert.equal(sha(base), before);
  } finally {
    run('umount', [small]);
  }
});

test('cancelling during the injection leaves nothing behind', async () => {
  const out = freshOut('cancel');
  const controller = new AbortController();
  await assert.rejects(
    insertJob(options(out), {
      signal: controller.signal,
      onProgress: (p) => {
        if (p.stage === 'injecting') controller.abort();
      },
    }),
    (e) => isAtlasError(e, 'CANCELLED'),
  );
  assertNothingLeft(out);
});

test('a profile moves the destinations and the build folder; every WantedBy target gets its link', async () => {
  const buildDir = join(dir, 'profile-build');
  const profile = join(dir, 'profile.json');
  writeFileSync(
    profile,
    JSON.stringify({
      buildDir,
      destinations: { firstboot: '/opt/atlas/bin/firstboot.sh', secrets: '/etc/atlas-secure/secrets.conf' },
    }),
  );
  const service = writeInput(
    'two-targets.service',
    UNIT.replace(
      'ExecStart=/usr/local/sbin/atlas_firstboot.sh',
      'ExecStart=-/bin/bash /opt/atlas/bin/firstboot.sh --first',
    ).replace('WantedBy=multi-user.target', 'WantedBy=multi-user.target graphical.target'),
  );
  const secrets = writeInput('open-secrets.conf', SECRET, 0o644);
  const { outDir: _ignored, ...rest } = options('');
  const result = await insertJob({ ...rest, profile, service, secrets });
  assert.equal(result.output, join(buildDir, 'ods-atlas-golden-v8-1-TEST.img'));
  assert.equal(result.warnings.length, 1);
  assert.match(result.warnings[0]!, /readable by its group and others \(mode 0644\).*chmod 600/);
  assert.ok(!result.warnings[0]!.includes('do-not-print'));
  const img = result.output;
  e2fsckClean(img);
  assert.match(debugfs(img, 'stat /opt/atlas/bin/firstboot.sh'), /Mode: +0755/);
  assert.match(debugfs(img, 'stat /opt/atlas'), /Type: directory +Mode: +0755/);
  assert.match(debugfs(img, 'stat /etc/atlas-secure/secrets.conf'), /Mode: +0600/);
  for (const target of ['multi-user.target', 'graphical.target']) {
    assert.match(
      debugfs(img, `stat /etc/systemd/system/${target}.wants/atlas-firstboot.service`),
      /Fast link dest: "\/etc\/systemd\/system\/atlas-firstboot.service"/,
    );
  }
});

test('the CLI: atlas insert --json prints progress lines and a result; refusals exit 1 with the code', async () => {
  const cli = join(__dirname, '..', '..', 'main', 'cli', 'run.js');
  const out = freshOut('cli');
  const args = [
    cli,
    'insert',
    base,
    '--firstboot',
    inputs.firstboot,
    '--service',
    inputs.service,
    '--secrets',
    inputs.secrets,
    '--version',
    '9-0',
    '--tag',
    'CLI',
    '--out',
    out,
    '--json',
  ];
  // the job log goes to a config folder of the test's own
  const env = { ...process.env, ATLAS_CONFIG_DIR: join(dir, 'cli-config') };
  const ok = spawnSync(process.execPath, args, { encoding: 'utf8', env });
  assert.equal(ok.status, 0, ok.stderr);
  assert.ok(!`${ok.stdout}${ok.stderr}`.includes('do-not-print'), 'secrets are never printed');
  const lines = ok.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { type: string; [k: string]: unknown });
  assert.ok(lines.some((l) => l.type === 'progress' && l.stage === 'injecting'));
  const result = lines.at(-1)!;
  assert.equal(result.type, 'result');
  assert.equal(result.output, join(out, 'ods-atlas-golden-v9-0-CLI.img'));
  assert.equal((result.base as { version: string }).version, '26.2.1');
  e2fsckClean(result.output as string);

  const golden = [...args.slice(0, 2), result.output as string, ...args.slice(3)].map((a) =>
    a === 'CLI' ? 'CLI2' : a,
  );
  const again = spawnSync(process.execPath, golden, { encoding: 'utf8', env });
  assert.equal(again.status, 1);
  const error = JSON.parse(again.stdout.trim().split('\n').at(-1)!) as {
    type: string;
    code: string;
    message: string;
  };
  assert.equal(error.type, 'error');
  assert.equal(error.code, 'PHASE_RULE');
  assert.match(again.stderr, /Insert creates Phase 0 from a base image only/);
  // both inserts are in the job log the app shows, newest first: the golden image made (its manifest's sha256)
  // and the refusal
  const log = await readJobLog(join(dir, 'cli-config'));
  assert.deepEqual(
    log.map((e) => [e.job, e.source, e.output, e.sha256, e.result, e.error]),
    [
      ['insert', result.output, undefined, null, 'failed', 'PHASE_RULE'],
      [
        'insert',
        base,
        result.output,
        run('sha256sum', [result.manifestPath as string]).split(' ')[0],
        'succeeded',
        null,
      ],
    ],
  );

  const usage = spawnSync(process.execPath, [cli, 'insert', base, '--json'], { encoding: 'utf8' });
  assert.equal(usage.status, 2);
  assert.match(usage.stderr, /insert needs --firstboot/);
});

test("macOS's copy on a filesystem that cannot clone: copied in process, the same image, 0600", async () => {
  const out = freshOut('darwin-copy');
  const result = await insertJob(options(out, { platform: 'darwin' }));
  assert.equal(result.copyMethod, 'copy');
  assert.equal(modeIfAny(result.output), 0o600);
  assert.equal(result.manifest.base.sha256, baseSha, 'hashed by the copy itself');
  e2fsckClean(result.output);
  assert.deepEqual(injected(result.output), rawInjected);
  assert.deepEqual(table(result.output), table(base));
  assert.deepEqual(
    readdirSync(out).filter((f) => f.startsWith('.atlas-clone-')),
    [],
    'the failed clone left nothing',
  );
});

/** Bytes of `file` in extents the filesystem marks shared (reflinked), and in all its extents, per filefrag. */
function extents(file: string): { shared: number; total: number } {
  const text = run('filefrag', ['-s', '-v', '-b4096', file]);
  let shared = 0;
  let total = 0;
  for (const line of text.split('\n')) {
    // "   0:        0..     255:      24..     279:    256:             shared,last,eof"
    const m = /^\s*\d+:\s+\d+\.\.\s*\d+:\s+\d+\.\.\s*\d+:\s+(\d+):.*?([\w,]*)$/.exec(line);
    if (!m) continue;
    total += Number(m[1]) * 4096;
    if (m[2]!.split(',').includes('shared')) shared += Number(m[1]) * 4096;
  }
  return { shared, total };
}

test('on a copy-on-write filesystem (XFS, reflink=1) the golden image shares the base’s extents, by the clone (the macOS path) and by GNU cp', async () => {
  const fsImage = join(dir, 'reflink-xfs.img');
  run('truncate', ['-s', '600M', fsImage]);
  run('mkfs.xfs', ['-q', '-m', 'reflink=1', fsImage]);
  const mnt = freshOut('xfs');
  run('mount', ['-o', 'loop', fsImage, mnt]);
  try {
    // 64 MiB of file data in the root, so that a copy would show in the free space
    const xfsBase = makeArmbianImage(join(mnt, BASE_NAME), { extraMib: 64 });
    const baseSum = sha(xfsBase);
    const baseExtents = extents(xfsBase).total;
    assert.ok(baseExtents > 48 * 1048576, `the base holds ${baseExtents} bytes`);
    for (const platform of ['darwin', 'linux'] as const) {
      const out = join(mnt, platform);
      mkdirSync(out);
      run('sync', []);
      const freeBefore = statfsSync(mnt).bavail * statfsSync(mnt).bsize;
      const partialModes = new Set<number>();
      const result = await insertJob(options(out, { base: xfsBase, platform }), {
        onProgress: () =>
          partialModes.add(modeIfAny(`${join(out, 'ods-atlas-golden-v8-1-TEST.img')}.partial`)),
      });
      run('sync', []);
      const used = freeBefore - statfsSync(mnt).bavail * statfsSync(mnt).bsize;
      assert.equal(result.copyMethod, platform === 'darwin' ? 'reflink' : 'copy');
      const { shared, total } = extents(result.output);
      // everything but the few blocks the injection rewrote is the base's own
      assert.ok(shared >= baseExtents - 4 * 1048576, `${platform}: ${shared} of ${total} bytes shared`);
      assert.ok(
        used < 16 * 1048576,
        `${platform}: the insert took ${used} bytes, the base holds ${baseExtents}`,
      );
      partialModes.delete(-1);
      assert.deepEqual([...partialModes], [GOLDEN_IMAGE_MODE], `${platform}: the partial was never wider`);
      assert.equal(modeIfAny(result.output), 0o600);
      e2fsckClean(result.output);
      assert.deepEqual(injected(result.output), rawInjected);
      assert.equal(result.manifest.base.sha256, baseSum);
      assert.deepEqual(
        readdirSync(out).filter((f) => !f.startsWith('.atlas-secrets') && !f.startsWith('.atlas-cache')),
        ['ods-atlas-golden-v8-1-TEST.img', 'ods-atlas-golden-v8-1-TEST.manifest.json'],
      );
    }
    assert.equal(sha(xfsBase), baseSum, 'the base is unchanged');
  } finally {
    run('umount', [mnt]);
  }
});
