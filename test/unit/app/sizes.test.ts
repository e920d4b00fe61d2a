/**
 * Sizes known before anyone confirms: the unpacked size of each archive format (made by the real tools), the card
 * a clone folder needs (its dump made by the real sfdisk), and refusals in human units before a byte is written.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { createHandlers, type DeviceJobRunner } from '../../../main/app/handlers';
import type { Drive, ImageInfo, Reply } from '../../../main/contract';
import { run, scratchDir, shell } from '../../support/sh';
import { card as driveFixture } from '../../support/drives';

const MIB = 1024 * 1024;

/** A card of `size` bytes, as the app lists it. */
const card = (size: number): Drive => driveFixture({ description: 'SanDisk Ultra', size, serial: 'SER1' });

function setup(drives: Drive[]) {
  const { dir, cleanup } = scratchDir('atlas-sizes-');
  const started: string[] = [];
  const runDeviceJob: DeviceJobRunner = async (kind) => {
    started.push(kind);
    throw new Error('not run in this test');
  };
  const app = createHandlers({
    version: 'test',
    platform: 'linux',
    configDir: join(dir, 'config'),
    homeDir: dir,
    listDrives: async () => drives,
    emit: () => undefined,
    runDeviceJob,
  });
  return { app, dir, started, cleanup };
}

function value<T>(reply: Reply<unknown>): T {
  assert.equal(reply.ok, true, JSON.stringify(reply));
  return (reply as { value: T }).value;
}

function failure(reply: Reply<unknown>): { code: string; message: string } {
  assert.equal(reply.ok, false, 'expected a refusal');
  return (reply as { error: { code: string; message: string } }).error;
}

test('the unpacked size of .xz, .gz, .zip and .zst is read from the container, before anything is decoded', async () => {
  const t = setup([]);
  try {
    const raw = join(t.dir, 'atlas.img');
    // half random, half zeros: compresses, and a wrong size cannot pass by chance
    writeFileSync(raw, Buffer.concat([randomBytes(MIB), Buffer.alloc(5 * MIB)]));
    run('xz', ['-k', '-T1', raw]);
    run('gzip', ['-k', raw]);
    run('zstd', ['-q', '-k', raw]);
    run('zip', ['-q', '-j', join(t.dir, 'atlas.zip'), raw]);
    // zstd fed from a pipe records no content size
    shell(`cat atlas.img | zstd -q -c > piped.img.zst`, t.dir);
    const inspect = async (name: string) =>
      value<ImageInfo>(await t.app.dispatch('image:inspect', { path: join(t.dir, name) }));

    for (const [name, format] of [
      ['atlas.img.xz', 'xz'],
      ['atlas.zip', 'zip'],
      ['atlas.img.zst', 'zst'],
    ] as const) {
      const info = await inspect(name);
      assert.equal(info.format, format, name);
      assert.equal(info.imageSize, 6 * MIB, name);
      assert.equal(info.sizeExact, true, name);
    }
    // gzip's trailer: right here, but only a floor in general (it counts the last member, modulo 4 GiB)
    const gz = await inspect('atlas.img.gz');
    assert.deepEqual([gz.format, gz.imageSize, gz.sizeExact], ['gz', 6 * MIB, false]);
    const piped = await inspect('piped.img.zst');
    assert.deepEqual([piped.imageSize, piped.sizeExact], [null, false]);
    // a truncated download is caught when it is chosen, not after "Erase"
    const whole = readFileSync(join(t.dir, 'atlas.img.xz'));
    writeFileSync(join(t.dir, 'cut.img.xz'), whole.subarray(0, whole.length - 32));
    const cut = failure(await t.app.dispatch('image:inspect', { path: join(t.dir, 'cut.img.xz') }));
    assert.equal(cut.code, 'CORRUPT_ARCHIVE');
  } finally {
    t.cleanup();
  }
});

test('flash refuses a card smaller than an archive unpacks to, in human units, before the job starts', async () => {
  const t = setup([card(4 * MIB)]);
  try {
    const raw = join(t.dir, 'atlas.img');
    writeFileSync(raw, Buffer.alloc(6 * MIB, 3));
    run('xz', ['-T1', raw]);
    const error = failure(
      await t.app.dispatch('flash:start', {
        image: `${raw}.xz`,
        targets: [{ device: '/dev/sdx', size: 4 * MIB, serial: 'SER1' }],
        verify: true,
      }),
    );
    assert.equal(error.code, 'TARGET_TOO_SMALL');
    assert.equal(
      error.message,
      'This card cannot be written: /dev/sdx holds 4.00 MiB; atlas.img.xz needs 6.00 MiB.',
    );
    assert.deepEqual(t.started, [], 'no job was started');
  } finally {
    t.cleanup();
  }
});

test('a clone folder tells the card it needs from its dump; restore refuses a smaller card before writing', async () => {
  const t = setup([card(8 * MIB)]);
  try {
    // the layout of a real card, dumped by the real sfdisk: the last partition ends at 12 MiB
    const disk = join(t.dir, 'disk.img');
    run('truncate', ['-s', '16M', disk]);
    run('sfdisk', ['-q', disk], {
      input: 'label: dos\nstart=2048, size=8192, type=c\nstart=10240, size=14336, type=83\n',
    });
    const folder = join(t.dir, 'golden-clone-FIELD');
    mkdirSync(folder);
    writeFileSync(join(folder, 'partition-table.dump'), run('sfdisk', ['--dump', disk]));
    const info = value<{ neededBytes: number; tag: string; hasManifest: boolean }>(
      await t.app.dispatch('clone:inspect', { folder }),
    );
    assert.equal(info.neededBytes, 24576 * 512);
    assert.equal(info.tag, 'FIELD');
    assert.equal(info.hasManifest, false);

    const error = failure(
      await t.app.dispatch('restore:start', {
        folder,
        targets: [{ device: '/dev/sdx', size: 8 * MIB, serial: 'SER1' }],
        intent: 'exact',
        grow: true,
      }),
    );
    assert.equal(error.code, 'TARGET_TOO_SMALL');
    assert.equal(
      error.message,
      'This card cannot be written: /dev/sdx holds 8.00 MiB; golden-clone-FIELD needs 12.0 MiB.',
    );
    assert.deepEqual(t.started, []);

    // a folder that is not a clone says so, and not "choose the file again"
    const other = join(t.dir, 'photos');
    mkdirSync(other);
    const wrong = failure(await t.app.dispatch('clone:inspect', { folder: other }));
    assert.equal(wrong.code, 'NOT_FOUND');
    assert.match(wrong.message, /photos is not a clone folder: it has no partition-table\.dump/);
  } finally {
    t.cleanup();
  }
});
