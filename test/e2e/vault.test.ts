/**
 * The vault from the Library page: a real clone folder (the real clone job, from the project's Armbian-like
 * fixture card) in the build folder is previewed, synced into a temporary vault and verified there, all through
 * the UI and the real vault jobs. Then a vault copy changed behind the app's back (same size and time) passes the
 * preview by sizes and times, and is caught as a conflict once "compare by sha256" is ticked. Last, a clone's
 * result copies it to the vault ("Copy it to the vault").
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  statSync,
  utimesSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { fakeCard, fileDeviceJobs } from './serve';
import { openSession, SHOTS } from './browser';
import { scratchDir } from '../support/sh';
import { makeArmbianImage, skipWithoutFixtureTools } from '../support/armbian';
import { inProcessFileJobs } from '../../main/app/production';

test(
  'vault: a real clone folder previewed, synced to a temp vault through the UI, verified there; sha256 compare catches a changed copy',
  { skip: skipWithoutFixtureTools() },
  async () => {
    const { dir, cleanup } = scratchDir('atlas-e2e-vault-');
    const source = makeArmbianImage(join(dir, 'dev-card.img'));
    const build = join(dir, 'atlas-build');
    const vault = join(dir, 'vault');
    mkdirSync(build);
    mkdirSync(vault);
    mkdirSync(join(dir, 'config'));
    writeFileSync(
      join(dir, 'config', 'settings.json'),
      JSON.stringify({ buildFolder: build, vaultFolder: vault }),
    );
    const s = await openSession(dir, {
      drives: [fakeCard(source, { description: 'Dev kiosk card', size: readFileSync(source).length })],
      runDeviceJob: fileDeviceJobs,
      fileJobs: inProcessFileJobs,
    });
    const { page } = s.app;
    const name = 'golden-clone-v8-1-0-VAULT';
    try {
      // a real Phase 1 folder, made by the real clone job
      await page.getByTestId('nav-clone').click();
      await page.getByTestId(`drive-option-${source}`).click(); // one card: the dropdown closes on it
      await page.getByTestId('clone-tag').fill('v8-1-0-VAULT');
      await page.getByTestId('clone-start').click();
      await page.getByTestId('clone-done').waitFor({ timeout: 120_000 });

      // preview: lists what would be copied, writes nothing
      await page.getByTestId('nav-library').click();
      const checksum = page.getByTestId('vault-checksum');
      assert.equal(await checksum.isChecked(), false, 'compare by sha256 is off, as in the engine');
      await page.getByTestId('vault-preview').focus();
      await page.keyboard.press('Enter');
      await page.getByTestId(`vault-plan-${name}`).waitFor({ timeout: 60_000 });
      assert.equal(existsSync(join(vault, name)), false, 'the preview copied nothing');

      // sync, then the vault's copy is listed and complete
      await page.getByTestId('vault-sync').click();
      await page.getByTestId('vault-sync-done').waitFor({ timeout: 120_000 });
      assert.ok(existsSync(join(vault, name, 'atlas-manifest.json')), 'the clone folder is in the vault');
      // one row, now living in the build folder and in the vault
      await page.getByTestId(`library-where-${name}`).filter({ hasText: 'Build folder and vault' }).waitFor();
      assert.equal(await page.getByTestId(`library-row-${name}`).count(), 1);

      // verify: every artifact re-hashed against its checksums
      await page.getByTestId('vault-verify').click();
      const row = page.getByTestId(`vault-verify-${name}`);
      await row.waitFor({ timeout: 60_000 });
      assert.equal(await row.getAttribute('data-status'), 'ok');
      await page.screenshot({ path: join(SHOTS, 'vault-verified.png'), fullPage: true });

      // one byte of the vault's copy changed, its size and modification time kept
      const copy = join(vault, name);
      const changed = join(
        copy,
        readdirSync(copy).find((f) => f.endsWith('.gz'))!,
      );
      const { atime, mtime, size } = statSync(changed);
      const fd = openSync(changed, 'r+');
      try {
        const byte = Buffer.alloc(1);
        readSync(fd, byte, 0, 1, size >> 1);
        byte[0] = byte[0]! ^ 0xff;
        writeSync(fd, byte, 0, 1, size >> 1);
      } finally {
        closeSync(fd);
      }
      utimesSync(changed, atime, mtime);

      // by sizes and times the vault holds everything already
      await page.getByTestId('vault-preview').click();
      await page.getByTestId('vault-plan').getByText('The vault already holds everything.').waitFor();

      // compared by sha256, the preview reads both sides and names the difference as a conflict
      await checksum.check();
      await page.getByTestId('vault-preview').click();
      const error = page.getByTestId('vault-error');
      await error.waitFor({ timeout: 60_000 });
      assert.equal(await error.getAttribute('data-code'), 'CONFLICT');
      assert.match((await error.textContent()) ?? '', new RegExp(`${name}.*has other content`));
      await page.screenshot({ path: join(SHOTS, 'vault-checksum-conflict.png'), fullPage: true });

      // Clone's result leads on to the vault: another card cloned, then copied there from the result
      await page.getByTestId('nav-clone').click();
      await page.getByTestId('clone-again').click();
      // the card stays chosen for the next clone
      await page.getByTestId('clone-tag').fill('v8-1-0-ARCHIVE');
      await page.getByTestId('clone-start').click();
      await page.getByTestId('clone-done').waitFor({ timeout: 120_000 });
      await page.getByTestId('clone-archive').click();
      const archived = page.getByTestId('clone-archived');
      await archived.waitFor({ timeout: 120_000 });
      assert.equal(await archived.textContent(), `Copied to the vault: ${vault}`);
      assert.ok(existsSync(join(vault, 'golden-clone-v8-1-0-ARCHIVE', 'atlas-manifest.json')));
      await page.screenshot({ path: join(SHOTS, 'clone-archived.png'), fullPage: true });
      assert.deepEqual(s.app.consoleErrors, []);
    } finally {
      await s.close();
      cleanup();
    }
  },
);
