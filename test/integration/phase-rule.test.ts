/**
 * The Phase rule for Clone and lineage, on real cards (loop devices): a golden image Insert made from the
 * Armbian-like fixture, flashed and never booted, is refused and nothing is written; the override clones it and
 * says so; once booted (its root mounted read-write, as a Pi's first boot does) it is cloned with its parent
 * release recorded; a card Insert never made has an unknown lineage; the Library links each golden image to its
 * clones. The same through the elevated helper (the job reads the card on the broker's descriptor) and the CLI.
 * The superblock values Insert records are checked against dumpe2fs.
 */
import test, { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cloneJob } from '../../main/engine/jobs/clone';
import { insertJob, type InsertResult } from '../../main/engine/jobs/insert';
import { localCardAccess } from '../../main/engine/drives/index';
import { listArtifacts, listLibrary } from '../../main/engine/library/catalog';
import { readCloneManifest } from '../../main/engine/library/clone-folder';
import { toCloneResult, toLibraryEntry } from '../../main/app/adapters';
import { isAtlasError } from '../../main/engine/errors';
import { runInHelper } from '../../main/helper/launch';
import type { CloneResult } from '../../main/engine/jobs/clone';
import { installFakeLsblk } from '../support/fake-lsblk';
import { main } from '../../main/cli/index';
import { PassThrough } from 'node:stream';
import { attachLoop, type LoopDevice } from '../support/loop';
import { makeArmbianImage } from '../support/armbian';
import { sha256sum } from '../support/assert';
import { bootImage, bootPartition } from '../support/boot';
import { run, scratchDir, shell } from '../support/sh';

const GOLDEN = 'ods-atlas-golden-v8-1-PHASE.img';

/** Mount count and last mount time (seconds) as dumpe2fs prints them: the oracle for our superblock reading. */
function dumpe2fsMounts(device: string): { mountCount: number; lastMountTime: number } {
  const text = run('env', ['TZ=UTC', 'dumpe2fs', '-h', device]);
  const count = /^Mount count:\s+(\d+)$/m.exec(text);
  const time = /^Last mount time:\s+(.+)$/m.exec(text);
  assert.ok(count && time, text);
  return {
    mountCount: Number(count[1]),
    lastMountTime: time[1] === 'n/a' ? 0 : Date.parse(`${time[1]} UTC`) / 1000,
  };
}

function releaseOf(device: string): string {
  return run('debugfs', ['-R', 'cat /etc/atlas/golden-release', device]);
}

describe('the Phase rule for Clone, and lineage', () => {
  const { dir, cleanup } = scratchDir('atlas-phase-');
  const build = join(dir, 'build');
  let golden: InsertResult;
  let card: LoopDevice;
  const cardFile = join(dir, 'card.bin');

  before(async () => {
    const base = makeArmbianImage(join(dir, 'Armbian_26.2.1_Rpi4b_trixie_current_6.18.9_minimal.img'));
    // Armbian's build mounts the root read-write: a real base has a mount count and time, not mkfs's zeros
    bootImage(base, { traces: false });
    const input = (name: string, text: string, mode: number): string => {
      const path = join(dir, name);
      writeFileSync(path, text);
      chmodSync(path, mode);
      return path;
    };
    golden = await insertJob({
      base,
      firstboot: input('atlas_firstboot.sh', '#!/bin/bash\necho atlas\n', 0o755),
      service: input(
        'atlas-firstboot.service',
        '[Unit]\nDescription=Atlas\n[Service]\nType=oneshot\nExecStart=/usr/local/sbin/atlas_firstboot.sh\n[Install]\nWantedBy=multi-user.target\n',
        0o644,
      ),
      secrets: input('atlas_secrets.conf', 'TOKEN=phase-test\n', 0o600),
      version: 8,
      patch: 1,
      tag: 'PHASE',
      outDir: build,
    });
    // "flash" it: the card holds the golden image's bytes, as Flash writes them
    copyFileSync(golden.output, cardFile);
    card = attachLoop(cardFile);
  });
  after(() => {
    card?.detach();
    cleanup();
  });

  const cloneFolders = (): string[] => readdirSync(build).filter((n) => n.startsWith('golden-clone-'));

  test('Insert records the root superblock’s mount count and last mount time in golden-release', () => {
    const release = releaseOf(card.partition(2));
    const sb = dumpe2fsMounts(card.partition(2));
    assert.ok(sb.mountCount > 0 && sb.lastMountTime > 0, 'the base was mounted once');
    assert.match(release, new RegExp(`^ROOT_MOUNT_COUNT=${sb.mountCount}$`, 'm'));
    assert.match(release, new RegExp(`^ROOT_LAST_MOUNT=${sb.lastMountTime}$`, 'm'));
    assert.match(release, /^GOLDEN_NAME=ods-atlas-golden-v8-1-PHASE$/m);
  });

  test('a never-booted golden image on a card is refused, with what to do; nothing is written', async () => {
    const before = sha256sum(cardFile);
    await assert.rejects(
      cloneJob({ source: card.device, outDir: build, tag: 'UNBOOTED', access: localCardAccess() }),
      (e) =>
        isAtlasError(e, 'PHASE_RULE') &&
        e.message.includes(GOLDEN) &&
        /flash it, let it boot, then clone/.test(e.message) &&
        !/--/.test(e.message),
    );
    assert.deepEqual(cloneFolders(), [], 'no folder, no .partial');
    assert.equal(sha256sum(cardFile), before, 'the card is only read');
  });

  test('the golden image file itself is refused too', async () => {
    await assert.rejects(
      cloneJob({ source: golden.output, outDir: build, tag: 'IMAGE', access: localCardAccess() }),
      (e) => isAtlasError(e, 'PHASE_RULE'),
    );
    assert.deepEqual(cloneFolders(), []);
  });

  test('with the override it is cloned, and the manifest says so', async () => {
    const result = await cloneJob({
      source: card.device,
      outDir: build,
      tag: 'SAFETY',
      allowUnbooted: true,
      access: localCardAccess(),
    });
    const manifest = await readCloneManifest(result.folder);
    assert.equal(manifest?.phase, 1);
    assert.deepEqual(manifest?.lineage, {
      parent: {
        image: GOLDEN,
        name: 'ods-atlas-golden-v8-1-PHASE',
        version: 8,
        patch: 1,
        tag: 'PHASE',
        armbianVersion: '26.2.1',
        created: golden.manifest.created,
      },
      firstBoot: 'not-run',
      allowedUnbooted: true,
    });
    assert.deepEqual(
      { parent: toCloneResult(result).parent, unbooted: toCloneResult(result).unbooted },
      { parent: GOLDEN, unbooted: true },
    );
  });

  test('through the elevated helper, as the app runs it: refused the same way; the override reaches the job', async () => {
    // a card of its own (the one above gets booted next), presented as a USB card by the fake lsblk
    const file = join(dir, 'helper-card.bin');
    copyFileSync(golden.output, file);
    const loop = attachLoop(file, { partitions: false });
    const savedPath = process.env.PATH;
    try {
      const fake = installFakeLsblk(join(dir, 'helper'), [{ loop: loop.device, serial: 'GOLD-1' }]);
      process.env.PATH = fake.path;
      const clone = (tag: string, allowUnbooted?: boolean) =>
        runInHelper<CloneResult>(
          'clone',
          {
            source: fake.deviceFor(loop.device),
            confirmed: { size: statSync(file).size, serial: 'GOLD-1' },
            outDir: build,
            tag,
            ...(allowUnbooted !== undefined ? { allowUnbooted } : {}),
          },
          {},
          {
            mode: 'direct',
            entry: join(__dirname, '../../main/helper/main.js'),
            execPath: fake.brokerLauncher,
          },
        );
      await assert.rejects(
        clone('HELPER'),
        (e) => isAtlasError(e, 'PHASE_RULE') && e.message.includes(GOLDEN),
      );
      assert.ok(!existsSync(join(build, 'golden-clone-HELPER')));
      const made = await clone('HELPER', true);
      assert.equal(made.manifest.lineage?.allowedUnbooted, true);
      assert.equal(made.manifest.lineage?.parent?.image, GOLDEN);
    } finally {
      process.env.PATH = savedPath;
      loop.detach();
    }
  });

  test('after a boot the card is accepted, with its parent release; the override is not recorded', async () => {
    const before = dumpe2fsMounts(card.partition(2));
    bootPartition(card.partition(2));
    const after = dumpe2fsMounts(card.partition(2));
    assert.equal(after.mountCount, before.mountCount + 1, 'the boot mounted the root read-write');
    shell(`e2fsck -fn ${card.partition(2)}`);

    const result = await cloneJob({
      source: card.device,
      outDir: build,
      tag: 'v8-1-0-BOOTED',
      access: localCardAccess(),
    });
    const lineage = (await readCloneManifest(result.folder))?.lineage;
    assert.equal(lineage?.parent?.image, GOLDEN);
    assert.equal(lineage?.parent?.tag, 'PHASE');
    assert.equal(lineage?.firstBoot, 'ran');
    assert.equal(lineage?.allowedUnbooted, false);
    // an override given for a booted card changes nothing: there was no rule to override
    const again = await cloneJob({
      source: card.device,
      outDir: build,
      tag: 'v8-1-0-BOOTED2',
      allowUnbooted: true,
      access: localCardAccess(),
    });
    assert.equal((await readCloneManifest(again.folder))?.lineage?.allowedUnbooted, false);
  });

  test('a card Insert never made is cloned with an unknown lineage', async () => {
    const plain = makeArmbianImage(join(dir, 'plain.img'));
    const result = await cloneJob({ source: plain, outDir: build, tag: 'PLAIN', access: localCardAccess() });
    assert.deepEqual((await readCloneManifest(result.folder))?.lineage, {
      parent: null,
      firstBoot: 'unknown',
      allowedUnbooted: false,
    });
    assert.equal(toCloneResult(result).parent, undefined);
  });

  test('the Library links the golden image to its clones, and each clone to its parent', async () => {
    const catalog = await listArtifacts(build);
    const byName = new Map(catalog.artifacts.map((a) => [a.name, a]));
    assert.deepEqual(byName.get(GOLDEN)?.clones, [
      'golden-clone-HELPER',
      'golden-clone-SAFETY',
      'golden-clone-v8-1-0-BOOTED',
      'golden-clone-v8-1-0-BOOTED2',
    ]);
    assert.equal(byName.get('golden-clone-v8-1-0-BOOTED')?.parent, GOLDEN);
    assert.equal(byName.get('golden-clone-v8-1-0-BOOTED')?.unbooted, undefined);
    assert.equal(byName.get('golden-clone-SAFETY')?.unbooted, true);
    assert.equal(byName.get('golden-clone-PLAIN')?.parent, undefined);

    // over the build folder and the vault: a clone in either is listed once on its golden image
    const vault = join(dir, 'vault');
    shell(`mkdir -p ${vault} && cp -r ${join(build, 'golden-clone-v8-1-0-BOOTED')} ${vault}/`);
    const listing = await listLibrary([
      { location: 'build' as const, path: build },
      { location: 'vault' as const, path: vault },
    ]);
    const entries = listing.entries.map(toLibraryEntry);
    const goldenEntry = entries.find((e) => e.name === GOLDEN);
    assert.deepEqual(goldenEntry?.clones, [
      'golden-clone-HELPER',
      'golden-clone-SAFETY',
      'golden-clone-v8-1-0-BOOTED',
      'golden-clone-v8-1-0-BOOTED2',
    ]);
    const vaultClone = entries.find((e) => e.location === 'vault');
    assert.equal(vaultClone?.parent, GOLDEN);
    assert.ok(!existsSync(join(build, 'golden-clone-UNBOOTED')));
  });

  test('CLI: the refusal names --allow-unbooted; with it the clone is made and says so', async () => {
    const atlas = async (args: string[]): Promise<{ code: number; out: string }> => {
      let out = '';
      const sink = (): PassThrough => {
        const stream = new PassThrough();
        stream.on('data', (chunk: Buffer) => (out += chunk.toString()));
        return stream;
      };
      const code = await main(args, { stdout: sink(), stderr: sink(), stdin: new PassThrough() });
      return { code, out };
    };
    const refused = await atlas(['clone', golden.output, build, '--tag', 'CLI']);
    assert.notEqual(refused.code, 0);
    assert.match(refused.out, /flash it, let it boot, then clone.*--allow-unbooted/s);
    assert.ok(!existsSync(join(build, 'golden-clone-CLI')));
    const made = await atlas(['clone', golden.output, build, '--tag', 'CLI', '--allow-unbooted']);
    assert.equal(made.code, 0, made.out);
    assert.match(
      made.out,
      new RegExp(`Descends from ${GOLDEN} \\(never booted: cloned anyway, as a safety net\\)`),
    );
    const lineage = (await readCloneManifest(join(build, 'golden-clone-CLI')))?.lineage;
    assert.equal(lineage?.allowedUnbooted, true);
    const library = await atlas(['library', build]);
    assert.equal(library.code, 0, library.out);
    assert.match(
      library.out,
      /golden-clone-CLI\/.*\n {4}from ods-atlas-golden-v8-1-PHASE\.img \(never booted/,
    );
    assert.match(
      library.out,
      /ods-atlas-golden-v8-1-PHASE\.img .*\n {4}cloned as golden-clone-CLI, golden-clone-HELPER/,
    );
  });
});
