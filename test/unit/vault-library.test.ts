/** Where the CLI finds the app's folders, and the sha256sum format the vault writes and reads. */
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { DEFAULT_VAULT_FOLDER, appConfigDir, readLibraryFolders } from '../../main/engine/library/locations';
import { formatSha256Sums, parseSha256Sums, sidecarCandidates } from '../../main/engine/library/catalog';

test('the config folder is where Electron keeps userData for "Atlas Imager"', () => {
  assert.equal(appConfigDir({}, '/home/u', 'linux'), '/home/u/.config/Atlas Imager');
  assert.equal(appConfigDir({ XDG_CONFIG_HOME: '/x/cfg' }, '/home/u', 'linux'), '/x/cfg/Atlas Imager');
  assert.equal(
    appConfigDir({ XDG_CONFIG_HOME: 'relative' }, '/home/u', 'linux'),
    '/home/u/.config/Atlas Imager',
  );
  assert.equal(appConfigDir({}, '/Users/u', 'darwin'), '/Users/u/Library/Application Support/Atlas Imager');
  assert.equal(appConfigDir({ ATLAS_CONFIG_DIR: '/etc/atlas' }, '/home/u', 'linux'), '/etc/atlas');
});

test('settings: the app file when present and valid, the defaults otherwise', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'atlas-settings-'));
  try {
    const none = await readLibraryFolders({ configDir: dir, homeDir: '/home/u' });
    assert.deepEqual(none, {
      buildFolder: '/home/u/atlas-build',
      vaultFolder: DEFAULT_VAULT_FOLDER,
      settingsFile: null,
    });
    writeFileSync(
      join(dir, 'settings.json'),
      JSON.stringify({ buildFolder: '/b', vaultFolder: 'relative/v' }),
    );
    const some = await readLibraryFolders({ configDir: dir, homeDir: '/home/u' });
    assert.deepEqual(some, {
      buildFolder: '/b',
      vaultFolder: DEFAULT_VAULT_FOLDER,
      settingsFile: join(dir, 'settings.json'),
    });
    writeFileSync(join(dir, 'settings.json'), '{broken');
    assert.equal((await readLibraryFolders({ configDir: dir, homeDir: '/home/u' })).settingsFile, null);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('SHA256SUMS round-trips and sha256sum -c accepts what we write', () => {
  const dir = mkdtempSync(join(tmpdir(), 'atlas-sums-'));
  try {
    writeFileSync(join(dir, 'a file.img'), 'hello');
    writeFileSync(join(dir, 'b.json'), '{}');
    const theirs = execFileSync('sha256sum', ['a file.img', 'b.json'], { cwd: dir, encoding: 'utf8' });
    const parsed = parseSha256Sums(`${theirs}# comment\n`);
    assert.equal(parsed.size, 2);
    const ours = formatSha256Sums([...parsed].map(([name, sha256]) => ({ name, sha256 })));
    assert.equal(ours, theirs);
    writeFileSync(join(dir, 'SUMS'), ours);
    execFileSync('sha256sum', ['-c', 'SUMS'], { cwd: dir });
    assert.equal(parseSha256Sums(`${'A'.repeat(64)} *./x.img\n`).get('x.img'), 'a'.repeat(64));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a golden image sidecar: the name Insert writes first, then the app's older spellings", () => {
  assert.deepEqual(sidecarCandidates('ods-atlas-golden-v8-1-FLASH.img'), [
    'ods-atlas-golden-v8-1-FLASH.manifest.json',
    'ods-atlas-golden-v8-1-FLASH.img.json',
    'ods-atlas-golden-v8-1-FLASH.json',
  ]);
});
