/**
 * The package a person installs, built offline (test/package/packed.ts) and exercised from the packed files:
 * what it holds, that everything the app and the root helper load is in it, and the flows run from it — Flash
 * of an .img.xz, Clone and Restore through the helper started as the packed app starts it (the packed
 * executable run as Node, the entry outside the archive), Insert and Vault sync in the packed engine.
 * The cards are loop devices presented as USB cards by the fake lsblk; nothing here touches a disk of the machine.
 */
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { electronShellTests } from './shell';
import { flipFuses, FuseV1Options, FuseVersion, getCurrentFuseWire } from '@electron/fuses';
import { FuseState } from '@electron/fuses/dist/constants';
import { archiveFiles, buildPackage, filesUnder, missingLoads, OUT, ROOT, type PackedApp } from './packed';
import { attachLoop, type LoopDevice } from '../support/loop';
import { installFakeLsblk, type FakeLsblk } from '../support/fake-lsblk';
import { isRoot, run, scratchDir, shell } from '../support/sh';
import { xxhsum } from '../support/xxhsum';
import type * as Launch from '../../main/helper/launch';
import type * as Resources from '../../main/engine/resources';
import type * as Production from '../../main/app/production';
import type * as Source from '../../main/engine/compress/source';
import type * as AddonModule from '../../main/engine/io/addon';
import type { FlashResult } from '../../main/engine/jobs/flash';
import type { CloneResult } from '../../main/engine/jobs/clone';
import type { RestoreResult } from '../../main/engine/jobs/restore';

const MiB = 1024 * 1024;
// Today 1.3 MiB of archive (the main process's JavaScript, the preload, the renderer bundle) and 3.4 MiB beside
// it (the engine and helper, their packages, the two native addons). A test folder, a source map, the renderer's
// React listed as a run-time dependency again (+8 MiB) or native build leftovers break these.
const ASAR_BUDGET = 3 * MiB;
const UNPACKED_BUDGET = 5 * MiB;
/** Nothing of these belongs in what people install. */
const FORBIDDEN: Array<[RegExp, string]> = [
  [/(^|\/)(test|tests|__tests__|fixtures|bench|e2e)(\/|$)/, 'tests, fixtures or benches'],
  [/\.map$/, 'a source map'],
  [/\.(ts|tsx)$/, 'TypeScript source'],
  [/(^|\/)(atlas_secrets\.conf|\.env|\.npmrc)$|\.(pem|key|p12|p8)$/, 'a secret'],
  [/\.(c|cc|cpp|h|hpp|o|a|gyp|gypi)$|(^|\/)(obj\.target|Makefile)(\/|$)/, 'a native build leftover'],
];

const skip = isRoot ? false : 'needs root for loop devices';
const IMG_MIB = 160;
const CARD_A = 192 * MiB;
const CARD_B = 256 * MiB;

let app: PackedApp;
let dir = '';
let cleanup = (): void => undefined;

/** A module of the packed app, loaded from the extracted package as the packed main process loads it. */
function packed<T>(path: string): T {
  return createRequire(__filename)(join(app.extracted, 'out', 'main', path)) as T;
}

before(() => {
  ({ dir, cleanup } = scratchDir('atlas-package-'));
  app = buildPackage(dir);
  console.log(`# electron-builder packed the app in ${(app.buildMs / 1000).toFixed(1)} s`);
});

after(() => cleanup());

test('the package holds the app and none of the tests, maps, build leftovers or secrets', () => {
  const files = archiveFiles(app.asar);
  const paths = new Set(files.map((f) => f.path));
  for (const need of [
    'package.json',
    'out/main/index.js',
    'out/main/engine/version.json',
    'out/preload/index.js',
    'out/renderer/index.html',
    'out/renderer/app.js',
    'out/resources/restore_golden.sh.template',
  ]) {
    assert.ok(paths.has(need), `the archive lacks ${need}`);
  }
  const manifest = JSON.parse(asarText('package.json')) as { main: string };
  assert.ok(paths.has(manifest.main), `package.json's main ${manifest.main} is not in the archive`);
  const unpacked = filesUnder(app.unpacked);
  for (const path of [...paths, ...unpacked]) {
    for (const [pattern, what] of FORBIDDEN) assert.doesNotMatch(path, pattern, `${path} is ${what}`);
  }
  // Electron reads a file the header marks unpacked from app.asar.unpacked: it must be there
  const real = new Set(unpacked);
  for (const f of files.filter((f) => f.unpacked))
    assert.ok(real.has(f.path), `${f.path} is missing unpacked`);
  for (const native of ['drivelist/build/Release/drivelist.node', 'zstd-napi/build/Release/binding.node']) {
    assert.ok(real.has(`node_modules/${native}`), `${native} is not beside the archive`);
  }
  assert.ok(real.has('out/native/atlas_io.node'), 'the engine addon is not beside the archive');
  const asarBytes = statSync(app.asar).size;
  const unpackedBytes = unpacked.reduce((sum, p) => sum + statSync(join(app.unpacked, p)).size, 0);
  console.log(
    `# app.asar ${(asarBytes / MiB).toFixed(1)} MiB, unpacked ${(unpackedBytes / MiB).toFixed(1)} MiB`,
  );
  assert.ok(asarBytes <= ASAR_BUDGET, `app.asar is ${asarBytes} bytes, over the ${ASAR_BUDGET} budget`);
  assert.ok(unpackedBytes <= UNPACKED_BUDGET, `unpacked is ${unpackedBytes} bytes, over ${UNPACKED_BUDGET}`);
});

function asarText(path: string): string {
  return readFileSync(join(app.extracted, path), 'utf8');
}

test('everything the packed app loads is in the package', () => {
  const main = join(app.extracted, 'out', 'main');
  const entries = readdirSync(main, { recursive: true })
    .map(String)
    .filter((p) => p.endsWith('.js'))
    .map((p) => join(main, p));
  assert.deepEqual(missingLoads(app.extracted, entries, ['electron']), []);
});

test('the helper runs from real files outside the archive, with everything it loads', () => {
  const resources = packed<typeof Resources>('engine/resources.js');
  // what main/helper/launch.ts's __dirname is in the installed app, and where root is sent instead
  const entry = resources.unpackedPath(join(app.asar, 'out', 'main', 'helper', 'main.js'));
  assert.equal(entry, join(app.unpacked, 'out', 'main', 'helper', 'main.js'));
  const entries = ['main.js', 'worker.js']
    .filter((name) => existsSync(join(OUT, 'main', 'helper', name)))
    .map((name) => join(app.unpacked, 'out', 'main', 'helper', name));
  for (const file of entries) assert.ok(existsSync(file), `${file} is not beside the archive`);
  assert.deepEqual(missingLoads(app.unpacked, entries), []);
  // run as the app runs it: the packed executable as Node (the runAsNode fuse), the helper's own refusal
  const r = spawnSync(app.executable, [entry], {
    encoding: 'utf8',
    env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' },
  });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /atlas-helper: The helper needs --socket=/);
});

// Electron's fuses as electron-builder.yml sets them: the security checklist's settings, except runAsNode, which
// the helper needs while it runs as Electron-as-Node.
const FUSES: Array<[FuseV1Options, FuseState]> = [
  [FuseV1Options.RunAsNode, FuseState.ENABLE],
  [FuseV1Options.EnableCookieEncryption, FuseState.ENABLE],
  [FuseV1Options.EnableNodeOptionsEnvironmentVariable, FuseState.DISABLE],
  [FuseV1Options.EnableNodeCliInspectArguments, FuseState.DISABLE],
  [FuseV1Options.EnableEmbeddedAsarIntegrityValidation, FuseState.ENABLE],
  [FuseV1Options.OnlyLoadAppFromAsar, FuseState.ENABLE],
  [FuseV1Options.GrantFileProtocolExtraPrivileges, FuseState.DISABLE],
];

test('the packed executable carries the fuses; it runs as Node only while runAsNode is on', async () => {
  const wire = (await getCurrentFuseWire(app.executable)) as unknown as Record<number, FuseState>;
  for (const [fuse, state] of FUSES) assert.equal(wire[fuse], state, `fuse ${FuseV1Options[fuse]}`);
  // the stand-in obeys its wire as Electron does: with runAsNode off, ELECTRON_RUN_AS_NODE is refused
  const off = join(dir, 'run-as-node-off');
  copyFileSync(app.executable, off);
  await flipFuses(off, { version: FuseVersion.V1, [FuseV1Options.RunAsNode]: false });
  const runsAsNode = (path: string): number | null =>
    spawnSync(path, ['-e', 'process.exit(0)'], { env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' } }).status;
  assert.equal(runsAsNode(app.executable), 0);
  assert.equal(runsAsNode(off), 1);
});

test("the engine's addon loads from the package and computes what zlib and xxhsum compute", () => {
  // Present is not enough: an addon built for another ABI, or left where loadAddon does not look, sends the
  // engine to its slower fallbacks without a word. Both trees load it: the main process's and the helper's.
  const data = Buffer.from(Array.from({ length: 100_000 }, (_, i) => (i * 2654435761) >>> 24));
  for (const tree of [app.extracted, app.unpacked]) {
    const addonJs = join(tree, 'out', 'main', 'engine', 'io', 'addon.js');
    const { loadAddon } = createRequire(__filename)(addonJs) as typeof AddonModule;
    const addon = loadAddon();
    assert.ok(addon, `${addonJs} found no addon to load`);
    // crc32Raw is the register without zlib's inversions
    assert.equal((~addon.crc32Raw(data, 0xffffffff) >>> 0).toString(16), crc32(data).toString(16));
    // XXH3-64 in 64 KiB segments, as `xxhsum -H3` prints each
    const segment = 64 * 1024;
    const expected = [data.subarray(0, segment), data.subarray(segment)].map((d) => xxhsum(d, dir));
    assert.deepEqual(addon.xxh3SegmentsSync(data, data.length, segment), expected);
  }
});

test('the packed CLI reports the package version', () => {
  const r = spawnSync(process.execPath, [join(app.extracted, 'out', 'main', 'cli', 'run.js'), '--version'], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  assert.equal(r.stdout.trim(), version);
});

test('the flows, run from the packed files', { skip }, async (t) => {
  const launch = packed<typeof Launch>('helper/launch.js');
  const resources = packed<typeof Resources>('engine/resources.js');
  const production = packed<typeof Production>('app/production.js');
  const source = packed<typeof Source>('engine/compress/source.js');
  const image = join(dir, 'kiosk.img');
  shell(
    `IMG_MIB=${IMG_MIB} FAT_MIB=64 EXTRA_MIB=24 bash ${ROOT}/test/fixtures/make-armbian-image.sh ${image}`,
  );
  shell(`xz -T0 -1 -k ${image}`);
  const imageSha = sha256(image);
  run('truncate', ['-s', String(CARD_A), join(dir, 'a.bin')]);
  run('truncate', ['-s', String(CARD_B), join(dir, 'b.bin')]);
  const cards: LoopDevice[] = [];
  const savedPath = process.env.PATH;
  const savedRunAsNode = process.env.ELECTRON_RUN_AS_NODE;
  try {
    const a = attachLoop(join(dir, 'a.bin'), { partitions: false });
    cards.push(a);
    const b = attachLoop(join(dir, 'b.bin'), { partitions: false });
    cards.push(b);
    const fake: FakeLsblk = installFakeLsblk(dir, [
      { loop: a.device, serial: 'PKG-A' },
      { loop: b.device, serial: 'PKG-B' },
    ]);
    process.env.PATH = fake.path;
    // the packed main process is Electron: launch.ts gives the helper ELECTRON_RUN_AS_NODE there
    process.env.ELECTRON_RUN_AS_NODE = '1';
    // the helper's command line, read while it is connected (it exits when its job ends)
    const helperCommands: string[] = [];
    const helper: Launch.HelperLaunchOptions = {
      mode: 'direct',
      // in the fake lsblk's mount namespace: the broker runs lsblk from /usr/bin only
      execPath: fake.launcherFor(app.executable),
      entry: resources.unpackedPath(join(app.asar, 'out', 'main', 'helper', 'main.js')),
      onConnected: (pid) => helperCommands.push(readFileSync(`/proc/${pid}/cmdline`, 'utf8')),
    };
    const ranPackedHelper = (): void => {
      const cmdline = helperCommands.at(-1) ?? '';
      assert.ok(cmdline.includes(helper.entry!), `the helper ran ${cmdline}`);
    };

    await t.test('Flash of an .img.xz through the packed helper', async () => {
      const result = await launch.runInHelper<FlashResult>(
        'flash',
        {
          source: `${image}.xz`,
          targets: [{ device: fake.deviceFor(a.device), confirmed: { size: CARD_A, serial: 'PKG-A' } }],
          verify: true,
          usedBlocksOnly: false,
          eject: false, // a loop device has nothing to eject
        },
        {},
        helper,
      );
      ranPackedHelper();
      assert.equal(result.targets[0]!.ok, true, JSON.stringify(result));
      assert.equal(shell(`head -c ${IMG_MIB * MiB} ${a.device} | sha256sum`).split(' ')[0], imageSha);
    });

    const build = join(dir, 'build');
    mkdirSync(build);
    let folder = '';
    await t.test('Clone through the packed helper, the restore script from its template', async () => {
      const result = await launch.runInHelper<CloneResult>(
        'clone',
        {
          source: fake.deviceFor(a.device),
          confirmed: { size: CARD_A, serial: 'PKG-A' },
          outDir: build,
          tag: 'PKG',
        },
        {},
        helper,
      );
      ranPackedHelper();
      folder = result.folder;
      const script = readFileSync(join(folder, 'restore_golden.sh'), 'utf8');
      assert.match(script, /^#!/);
      assert.doesNotMatch(script, /@@[A-Z_]+@@/, 'the template was not filled in');
      // verify throws on any bad hash or header; a result is a verified folder
      const verified = await production.inProcessFileJobs.verify!({ path: folder }, {});
      assert.ok(verified.checked >= 2, JSON.stringify(verified));
    });

    await t.test('Restore through the packed helper onto a bigger card', async () => {
      const result = await launch.runInHelper<RestoreResult>(
        'restore',
        {
          folder,
          targets: [{ device: fake.deviceFor(b.device), confirmed: { size: CARD_B, serial: 'PKG-B' } }],
          intent: 'exact',
          grow: true,
        },
        {},
        helper,
      );
      ranPackedHelper();
      assert.equal(result.targets[0]!.grow, 'resized', result.targets[0]!.growMessage);
      const view = attachLoop(join(dir, 'b.bin'));
      try {
        run('fsck.vfat', ['-n', view.partition(1)]);
        run('e2fsck', ['-fn', view.partition(2)]);
      } finally {
        view.detach();
      }
    });

    await t.test('Insert in the packed engine: the ext2fs WebAssembly in its worker', async () => {
      const input = (name: string, text: string, mode: number): string => {
        const path = join(dir, name);
        writeFileSync(path, text);
        chmodSync(path, mode);
        return path;
      };
      const result = await production.inProcessFileJobs.insert!(
        {
          base: `${image}.xz`,
          firstboot: input('atlas_firstboot.sh', '#!/bin/bash\necho atlas\n', 0o755),
          service: input(
            'atlas-firstboot.service',
            '[Unit]\nDescription=Atlas\n[Service]\nType=oneshot\nExecStart=/usr/local/sbin/atlas_firstboot.sh\n' +
              '[Install]\nWantedBy=multi-user.target\n',
            0o644,
          ),
          secrets: input('atlas_secrets.conf', 'TOKEN=package-test\n', 0o600),
          version: 1,
          patch: 0,
          tag: 'PKG',
          outDir: build,
          force: false,
        },
        {},
      );
      const view = attachLoop(result.output);
      try {
        run('e2fsck', ['-fn', view.partition(2)]);
        const script = run('debugfs', ['-R', 'cat /usr/local/sbin/atlas_firstboot.sh', view.partition(2)]);
        assert.match(script, /echo atlas/);
      } finally {
        view.detach();
      }
    });

    await t.test('Vault sync in the packed engine', async () => {
      const vault = join(dir, 'vault');
      mkdirSync(vault);
      const result = await production.inProcessFileJobs['vault-sync']!(
        { from: build, to: vault, dryRun: false, checksum: true },
        {},
      );
      assert.equal(result.copied, 2, JSON.stringify(result));
    });

    await t.test('the in-process xz decoder (WebAssembly in a worker) from the package', async () => {
      const src = await source.openImageSource(`${image}.xz`, { useTools: false });
      assert.equal(src.decoder, 'xz-wasm');
      const hash = createHash('sha256');
      for await (const chunk of src.createReadStream()) hash.update(chunk as Buffer);
      assert.equal(hash.digest('hex'), imageSha);
    });
  } finally {
    process.env.PATH = savedPath;
    if (savedRunAsNode === undefined) delete process.env.ELECTRON_RUN_AS_NODE;
    else process.env.ELECTRON_RUN_AS_NODE = savedRunAsNode;
    for (const card of cards) card.detach();
  }
});

electronShellTests(
  () => app,
  () => dir,
);

function sha256(path: string): string {
  return shell(`sha256sum ${path}`).split(' ')[0]!;
}
