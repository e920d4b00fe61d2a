/**
 * A base inside an archive recognised as it is picked (Insert's check of the base field), by decoding only as
 * far as recognition reads: the project's Armbian-like fixture in every accepted archive format, a golden
 * image inside an .xz, an archive of something else, a damaged archive, and a check cancelled by another
 * pick. debugfs is the oracle for where in the image the files recognition reads (and the data it does not
 * read) lie.
 */
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import {
  chmodSync,
  closeSync,
  openSync,
  readdirSync,
  readFileSync,
  statSync,
  utimesSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { checkInsertFields, recognisePickedBase } from '../../main/engine/jobs/insert/check-fields';
import { insertJob } from '../../main/engine/jobs/insert';
import { isAtlasError } from '../../main/engine/errors';
import { run, scratchDir } from '../support/sh';
import { fixtureOffsets, makeArmbianImage, skipWithoutFixtureTools } from '../support/armbian';

const BASE_NAME = 'Armbian_26.2.1_Rpi4b_trixie_current_6.18.9_minimal.img';
const skip = skipWithoutFixtureTools();

let dir: string;
let cleanup: () => void;
let base: string;
let size: number;
/** the temporary folder recognition decodes into: empty again after every check */
let temp: string;

before(() => {
  if (skip) return;
  ({ dir, cleanup } = scratchDir('atlas-pick-archive-'));
  temp = join(dir, 'tmp');
  run('mkdir', [temp]);
  // 48 MiB of data in /var/lib/atlas-test, written after /etc: what recognition never reads
  base = makeArmbianImage(join(dir, BASE_NAME), { imgMib: 256, extraMib: 48 });
  size = statSync(base).size;
  run('xz', ['-T1', '-0', '-k', base]);
  run('gzip', ['-1', '-k', base]);
  run('zstd', ['-q', '-1', base, '-o', `${base}.zst`]);
  run('zip', ['-q', '-1', '-j', join(dir, BASE_NAME.replace(/\.img$/, '.zip')), base]);
});

after(() => cleanup?.());

/** Where a file's blocks lie in the image, by debugfs on the root filesystem: [first byte, end byte). */
function extentOf(path: string): [number, number] {
  const root = fixtureOffsets().root;
  const blocks = run('debugfs', ['-R', `blocks ${path}`, `${base}?offset=${root}`])
    .trim()
    .split(/\s+/)
    .map(Number);
  return [root + Math.min(...blocks) * 4096, root + (Math.max(...blocks) + 1) * 4096];
}

function leftInTemp(): string[] {
  return readdirSync(temp);
}

test(
  'the fixture in each archive format is recognised from the decoded head, not the whole image',
  { skip },
  async () => {
    const [, releaseEnd] = extentOf('/etc/armbian-release');
    const [unreadStart, unreadEnd] = extentOf('/var/lib/atlas-test/random.bin');
    assert.ok(releaseEnd < unreadStart, 'the fixture lays /etc out before the test data (the premise)');
    for (const file of [
      `${base}.xz`,
      `${base}.gz`,
      `${base}.zst`,
      join(dir, BASE_NAME.replace(/\.img$/, '.zip')),
    ]) {
      const picked = await recognisePickedBase(file, { tempDir: temp });
      assert.equal(picked.inspection.version, '26.2.1', file);
      assert.equal(picked.inspection.board, 'rpi4b', file);
      assert.equal(picked.inspection.name, file.split('/').pop(), 'named as picked');
      assert.equal(picked.size, file.endsWith('.gz') ? null : size, `${file}: the size the archive records`);
      assert.ok(
        picked.decoded !== null && picked.decoded >= releaseEnd,
        `${file}: /etc/armbian-release was decoded`,
      );
      // the measure: how far the stream was decoded to recognise it
      assert.ok(
        picked.decoded < unreadEnd,
        `${file}: decoded ${picked.decoded} bytes of ${size}, not through the data it never reads (ends at ${unreadEnd})`,
      );
      assert.deepEqual(leftInTemp(), [], `${file}: the decoded head is deleted`);
    }
    // a raw image is read in place: nothing decoded
    const raw = await recognisePickedBase(base, { tempDir: temp });
    assert.equal(raw.decoded, null);
    assert.equal(raw.inspection.root.offset, fixtureOffsets().root);
  },
);

test('a golden image inside an .xz is refused by the phase rule, as at Build', { skip }, async () => {
  const input = (name: string, text: string, mode: number): string => {
    writeFileSync(join(dir, name), text);
    chmodSync(join(dir, name), mode);
    return join(dir, name);
  };
  const golden = await insertJob({
    base,
    firstboot: input('atlas_firstboot.sh', '#!/bin/bash\necho atlas\n', 0o755),
    service: input(
      'atlas-firstboot.service',
      '[Service]\nType=oneshot\nExecStart=/usr/local/sbin/atlas_firstboot.sh\n[Install]\nWantedBy=multi-user.target\n',
      0o644,
    ),
    secrets: input('atlas_secrets.conf', 'TOKEN=x\n', 0o600),
    version: 8,
    patch: 1,
    tag: 'PICK',
    outDir: join(dir, 'build'),
    hashCacheDir: false,
  });
  run('xz', ['-T1', '-0', '-k', golden.output]);
  await assert.rejects(recognisePickedBase(`${golden.output}.xz`, { tempDir: temp }), (error: unknown) => {
    assert.ok(isAtlasError(error));
    assert.equal(error.code, 'PHASE_RULE');
    assert.match(error.message, /ods-atlas-golden-v8-1-PICK\.img\.xz already carries the Atlas firstboot/);
    return true;
  });
  assert.deepEqual(leftInTemp(), []);
});

test('an archive of something else, and a damaged archive, each say so', { skip }, async () => {
  const other = join(dir, 'photos.img');
  writeFileSync(other, Buffer.alloc(8 * 1024 * 1024, 0x41));
  run('gzip', ['-1', other]);
  await assert.rejects(recognisePickedBase(`${other}.gz`, { tempDir: temp }), (error: unknown) => {
    assert.ok(isAtlasError(error));
    assert.equal(error.code, 'NOT_ARMBIAN_BASE');
    assert.match(error.message, /photos\.img\.gz is not a base Armbian image.*no MBR partition table/);
    return true;
  });

  // the fixture's .xz with its compressed bytes damaged near the start (its index, hence its size, intact)
  const damaged = join(dir, 'damaged.img.xz');
  writeFileSync(damaged, readFileSync(`${base}.xz`));
  const fd = openSync(damaged, 'r+');
  writeSync(fd, Buffer.alloc(64, 0xa5), 0, 64, 4096);
  closeSync(fd);
  await assert.rejects(recognisePickedBase(damaged, { tempDir: temp }), (error: unknown) => {
    assert.ok(isAtlasError(error));
    assert.equal(error.code, 'CORRUPT_ARCHIVE');
    assert.match(error.message, /damaged\.img\.xz is damaged/);
    return true;
  });
  assert.deepEqual(leftInTemp(), []);
});

test(
  'picking another base cancels the check of the first; the same base again is not decoded twice',
  { skip },
  async () => {
    const was = process.env.TMPDIR;
    process.env.TMPDIR = temp; // where checkInsertFields decodes (os.tmpdir())
    try {
      // a whole-second time, which utimes can set back exactly (below)
      const mtime = new Date(Math.floor(statSync(`${base}.gz`).mtimeMs / 1000) * 1000);
      utimesSync(`${base}.gz`, mtime, mtime);
      const first = checkInsertFields({ base: `${base}.xz` });
      // the second base is picked while the first is being decoded
      for (let i = 0; i < 2000 && leftInTemp().length === 0; i++)
        await new Promise((resolve) => setTimeout(resolve, 5));
      const second = checkInsertFields({ base: `${base}.gz` });
      assert.deepEqual(
        (await first).map((p) => [p.field, p.code]),
        [['base', 'CANCELLED']],
        'the first check answers cancelled (the page drops it)',
      );
      assert.deepEqual(await second, [], 'the second base is an Armbian base');
      assert.deepEqual(leftInTemp(), [], 'the cancelled decoding left nothing behind');

      // asked again as another field changes: the answer is shared, not decoded again. Shown by emptying
      // the archive behind the check's back, its size and time kept: decoding it now would fail.
      const gz = `${base}.gz`;
      writeFileSync(gz, Buffer.alloc(statSync(gz).size));
      utimesSync(gz, mtime, mtime);
      assert.deepEqual(await checkInsertFields({ base: gz, tag: 'X', version: 1, patch: 0 }), []);
      // a changed file is looked at again
      utimesSync(gz, mtime, new Date(mtime.getTime() + 1000));
      assert.deepEqual(
        (await checkInsertFields({ base: gz })).map((p) => [p.field, p.code]),
        [['base', 'UNSUPPORTED']],
      );
    } finally {
      if (was === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = was;
    }
  },
);
