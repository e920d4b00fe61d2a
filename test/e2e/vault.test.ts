/**
 * The vault from the Library page: a real clone folder (the real clone job, from the project's Armbian-like
 * fixture card) in the build folder is previewed, synced into a temporary vault and verified there, all through
 * the UI and the real vault jobs.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fakeCard, fileDeviceJobs } from './serve';
import { openSession, SHOTS } from './browser';
import { scratchDir } from '../support/sh';
import { makeArmbianImage, skipWithoutFixtureTools } from '../support/armbian';
import { inProcessFileJobs } from '../../main/app/production';

test(
  'vault: a real clone folder previewed, synced to a temp vault through the UI, then verified there',
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
      await page.getByTestId(`drive-option-${source}`).check();
      await page.getByTestId('clone-tag').fill('v8-1-0-VAULT');
      await page.getByTestId('clone-start').click();
      await page.getByTestId('clone-done').waitFor({ timeout: 120_000 });

      // preview: lists what would be copied, writes nothing
      await page.getByTestId('nav-library').click();
      await page.getByTestId('vault-preview').focus();
      await page.keyboard.press('Enter');
      await page.getByTestId(`vault-plan-${name}`).waitFor({ timeout: 60_000 });
      assert.equal(existsSync(join(vault, name)), false, 'the preview copied nothing');

      // sync, then the vault's copy is listed and complete
      await page.getByTestId('vault-sync').click();
      await page.getByTestId('vault-sync-done').waitFor({ timeout: 120_000 });
      assert.ok(existsSync(join(vault, name, 'atlas-manifest.json')), 'the clone folder is in the vault');
      // listed twice now: in the build folder and in the vault
      await page.getByTestId(`library-row-${name}`).nth(1).waitFor();

      // verify: every artifact re-hashed against its checksums
      await page.getByTestId('vault-verify').click();
      const row = page.getByTestId(`vault-verify-${name}`);
      await row.waitFor({ timeout: 60_000 });
      assert.equal(await row.getAttribute('data-status'), 'ok');
      await page.screenshot({ path: join(SHOTS, 'vault-verified.png'), fullPage: true });
      assert.deepEqual(s.app.consoleErrors, []);
    } finally {
      await s.close();
      cleanup();
    }
  },
);
