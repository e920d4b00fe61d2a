/**
 * readPartitionTable + formatSfdiskDump against the real `sfdisk --dump` (util-linux 2.38) as oracle, on image
 * files made by sfdisk and by the Armbian fixture script.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import { openBlockFile } from '../../main/engine/io/block-file';
import { formatSfdiskDump, readPartitionTable } from '../../main/engine/partition';
import { isAtlasError } from '../../main/engine/errors';
import { run, scratchDir } from '../support/sh';
import { DOS_SCRIPT, GPT_SCRIPT, sfdiskImage } from './partition-fixtures';

async function ourDump(path: string, device: string): Promise<string> {
  const file = await openBlockFile(path);
  try {
    return formatSfdiskDump(await readPartitionTable(file), device);
  } finally {
    await file.close();
  }
}

test('dos image with bootable flag and types c/b/e/83: our dump equals sfdisk --dump', async () => {
  const { dir, cleanup } = scratchDir();
  try {
    const img = sfdiskImage(dir, 'dos.img', 64, DOS_SCRIPT);
    const expected = run('sfdisk', ['--dump', 'dos.img'], { cwd: dir });
    assert.match(expected, /bootable/);
    assert.equal(await ourDump(img, 'dos.img'), expected);
  } finally {
    cleanup();
  }
});

test('Armbian fixture image: our dump equals sfdisk --dump', async () => {
  const { dir, cleanup } = scratchDir();
  try {
    const img = join(dir, 'armbian.img');
    run('bash', ['test/fixtures/make-armbian-image.sh', img]);
    const expected = run('sfdisk', ['--dump', img]);
    assert.equal(await ourDump(img, img), expected);
  } finally {
    cleanup();
  }
});

test('GPT image with names, quotes, attrs: our dump equals sfdisk --dump', async () => {
  const { dir, cleanup } = scratchDir();
  try {
    const img = sfdiskImage(dir, 'gpt.img', 32, GPT_SCRIPT);
    const expected = run('sfdisk', ['--dump', 'gpt.img'], { cwd: dir });
    assert.match(expected, /name="root \\x22fs\\x22 \\x24HOME"/);
    assert.equal(await ourDump(img, 'gpt.img'), expected);
    // device names ending in a digit get the "p" separator, as sfdisk names them
    assert.match(await ourDump(img, '/dev/mmcblk0'), /^\/dev\/mmcblk0p4 : start=/m);
  } finally {
    cleanup();
  }
});

test('GPT with table-length 8 and a first-lba: our dump equals sfdisk --dump', async () => {
  const { dir, cleanup } = scratchDir();
  try {
    const script =
      'label: gpt\nlabel-id: 6A1B2C3D-0000-4000-8000-00000000ABCD\nfirst-lba: 4096\ntable-length: 8\n\n' +
      '3 : start=4096, size=2048, type=L, uuid=31111111-2222-4333-8444-555555555555, attrs="GUID:50"\n';
    const img = sfdiskImage(dir, 'gpt8.img', 16, script);
    const expected = run('sfdisk', ['--dump', 'gpt8.img'], { cwd: dir });
    assert.match(expected, /^table-length: 8$/m);
    assert.equal(await ourDump(img, 'gpt8.img'), expected);
  } finally {
    cleanup();
  }
});

test('dos slot with type 0 but a start and size is listed, as sfdisk lists it', async () => {
  const { dir, cleanup } = scratchDir();
  try {
    const script =
      'label: dos\nlabel-id: 0x5\n\nstart=2048, size=100, type=0\nstart=4096, size=100, type=83\n';
    const img = sfdiskImage(dir, 't0.img', 8, script);
    const expected = run('sfdisk', ['--dump', 't0.img'], { cwd: dir });
    assert.match(expected, /type=0$/m);
    assert.equal(await ourDump(img, 't0.img'), expected);
  } finally {
    cleanup();
  }
});

test('GPT with a corrupt primary header falls back to the backup header', async () => {
  const { dir, cleanup } = scratchDir();
  try {
    const img = sfdiskImage(dir, 'gpt.img', 32, GPT_SCRIPT);
    const expected = run('sfdisk', ['--dump', 'gpt.img'], { cwd: dir });
    const bytes = readFileSync(img);
    bytes[512 + 60] = bytes[512 + 60]! ^ 0xff; // inside the disk GUID: header CRC now wrong
    writeFileSync(img, bytes);
    assert.equal(await ourDump(img, 'gpt.img'), expected);
    // entries CRC wrong in the primary copy too (header fixed, entries damaged)
    const again = readFileSync(img);
    again[512 + 60] = again[512 + 60]! ^ 0xff;
    again[1024 + 40] = again[1024 + 40]! ^ 0x01;
    writeFileSync(img, again);
    assert.equal(await ourDump(img, 'gpt.img'), expected);
  } finally {
    cleanup();
  }
});

test('no partition table: NO_PARTITION_TABLE', async () => {
  const { dir, cleanup } = scratchDir();
  try {
    const img = join(dir, 'blank.img');
    run('truncate', ['-s', '4M', img]);
    await assert.rejects(ourDump(img, 'blank.img'), (e) => isAtlasError(e, 'NO_PARTITION_TABLE'));
    // protective MBR, both GPT headers destroyed
    const gpt = sfdiskImage(dir, 'gpt.img', 32, GPT_SCRIPT);
    const bytes = readFileSync(gpt);
    bytes.fill(0, 512, 1024);
    bytes.fill(0, bytes.length - 512);
    writeFileSync(gpt, bytes);
    await assert.rejects(ourDump(gpt, 'gpt.img'), (e) => isAtlasError(e, 'NO_PARTITION_TABLE'));
  } finally {
    cleanup();
  }
});
