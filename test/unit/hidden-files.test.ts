/**
 * What macOS writes on a FAT or exFAT disk (`._NAME` AppleDouble files, `.DS_Store`) is not part of a clone folder
 * nor of the library: Restore's image listing and the catalog leave it out. The vault's side is in
 * test/integration/vault.test.ts.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { listPartitionImages } from '../../main/engine/library/clone-folder';
import { listArtifacts } from '../../main/engine/library/catalog';
import { isHiddenName } from '../../main/engine/library/hidden-files';
import { scratchDir } from '../support/sh';

/** An AppleDouble file as macOS writes it: magic 0x00051607, version 2, then the entries (content irrelevant here). */
const APPLE_DOUBLE = Buffer.concat([Buffer.from([0, 5, 0x16, 7, 0, 2, 0, 0]), Buffer.alloc(4088)]);

function macWritten(folder: string, names: string[]): void {
  for (const name of names) writeFileSync(join(folder, `._${name}`), APPLE_DOUBLE);
  writeFileSync(join(folder, '.DS_Store'), Buffer.alloc(6148, 1));
}

test('hidden names: what macOS writes, and nothing an artifact is called', () => {
  for (const name of ['.DS_Store', '._sdc1-boot.partclone.gz', '.Spotlight-V100', '.atlas-vault-sync.lock']) {
    assert.equal(isHiddenName(name), true, name);
  }
  for (const name of [
    'sdc1-boot.partclone.gz',
    'golden-clone-v1',
    'ods-atlas-golden-v8-1-X.img',
    'SHA256SUMS',
  ]) {
    assert.equal(isHiddenName(name), false, name);
  }
});

test('a clone folder with AppleDouble files and .DS_Store still has one image per partition', async () => {
  const { dir, cleanup } = scratchDir('atlas-hidden-');
  try {
    const folder = join(dir, 'golden-clone-MAC');
    mkdirSync(folder);
    writeFileSync(join(folder, 'partition-table.dump'), 'label: dos\n');
    writeFileSync(join(folder, 'sdc1-boot.partclone.gz'), 'boot');
    writeFileSync(join(folder, 'sdc2-root.partclone.gz'), 'root');
    macWritten(folder, ['sdc1-boot.partclone.gz', 'sdc2-root.partclone.gz', 'partition-table.dump']);
    const images = await listPartitionImages(folder);
    assert.deepEqual(
      images.map((i) => [i.number, i.file]),
      [
        [1, 'sdc1-boot.partclone.gz'],
        [2, 'sdc2-root.partclone.gz'],
      ],
    );
  } finally {
    cleanup();
  }
});

test('the catalog of a Mac-written library folder lists the artifacts and only their own files', async () => {
  const { dir, cleanup } = scratchDir('atlas-hidden-');
  try {
    const clone = join(dir, 'golden-clone-MAC');
    mkdirSync(clone);
    writeFileSync(join(clone, 'partition-table.dump'), 'label: dos\n');
    writeFileSync(join(clone, 'sdc1-boot.partclone.gz'), 'boot');
    macWritten(clone, ['sdc1-boot.partclone.gz']);
    const image = 'ods-atlas-golden-v8-1-MAC.img';
    writeFileSync(join(dir, image), Buffer.alloc(4096));
    writeFileSync(join(dir, 'ods-atlas-golden-v8-1-MAC.manifest.json'), '{"created":"2026-01-02T03:04:05Z"}');
    macWritten(dir, [image, 'ods-atlas-golden-v8-1-MAC.manifest.json', 'golden-clone-MAC']);
    // an AppleDouble of an unfinished copy is not an unfinished copy either
    writeFileSync(join(dir, `._${image}.partial`), APPLE_DOUBLE);

    const catalog = await listArtifacts(dir);
    assert.deepEqual(catalog.artifacts.map((a) => a.name).sort(), ['golden-clone-MAC', image]);
    assert.deepEqual(catalog.partials, []);
    const byName = Object.fromEntries(catalog.artifacts.map((a) => [a.name, a]));
    assert.deepEqual(
      byName['golden-clone-MAC']!.files.map((f) => f.name),
      ['partition-table.dump', 'sdc1-boot.partclone.gz'],
    );
    assert.equal(byName['golden-clone-MAC']!.size, 'label: dos\n'.length + 'boot'.length);
    assert.deepEqual(
      byName[image]!.files.map((f) => f.name),
      [image, 'ods-atlas-golden-v8-1-MAC.manifest.json'],
    );
  } finally {
    cleanup();
  }
});
