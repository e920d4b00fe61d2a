/**
 * Insert's base field with archives (issue 12, point 2), in Chromium over the real handlers: an .img.xz of the
 * project's Armbian-like fixture is recognised as it is picked ("Checking the image…" in the field while it
 * is decoded as far as recognition reads), and a golden image inside an .xz, an archive of something else and
 * a damaged archive each get their own answer on the field, before Build. Every state is saved as a picture
 * in test-results/screens/.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, closeSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { openSession, SHOTS } from './browser';
import { run, scratchDir } from '../support/sh';
import { makeArmbianImage, skipWithoutFixtureTools } from '../support/armbian';
import { insertJob } from '../../main/engine/jobs/insert';

const BASE_NAME = 'Armbian_26.2.1_Rpi4b_trixie_current_6.18.9_minimal.img';
const shot = (page: Page, name: string) =>
  page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });

test(
  'insert: archives are recognised as they are picked, each with its answer on the base field',
  { skip: skipWithoutFixtureTools() },
  async () => {
    const { dir, cleanup } = scratchDir('atlas-e2e-insert-archive-');
    try {
      const base = makeArmbianImage(join(dir, BASE_NAME));
      const input = (name: string, text: string, mode: number): string => {
        writeFileSync(join(dir, name), text);
        chmodSync(join(dir, name), mode);
        return join(dir, name);
      };
      // a golden image (Phase 0), zipped up as people pass images around
      const golden = await insertJob({
        base,
        firstboot: input('atlas_firstboot.sh', '#!/bin/bash\necho atlas\n', 0o755),
        service: input(
          'atlas-firstboot.service',
          '[Service]\nType=oneshot\nExecStart=/usr/local/sbin/atlas_firstboot.sh\n[Install]\nWantedBy=multi-user.target\n',
          0o644,
        ),
        secrets: input('atlas_secrets.conf', 'TOKEN=e2e\n', 0o600),
        version: 8,
        patch: 1,
        tag: 'FIELD',
        outDir: join(dir, 'elsewhere'),
        hashCacheDir: false,
      });
      run('xz', ['-T1', '-0', golden.output]);
      run('xz', ['-T1', '-0', '-k', base]);
      const photos = join(dir, 'holiday-photos.img');
      writeFileSync(photos, Buffer.alloc(8 * 1024 * 1024, 0x41));
      run('gzip', ['-1', photos]);
      // the fixture's .xz with bytes near its start overwritten (a bad download)
      const damaged = join(dir, 'Armbian_damaged.img.xz');
      writeFileSync(damaged, readFileSync(`${base}.xz`));
      const fd = openSync(damaged, 'r+');
      writeSync(fd, Buffer.alloc(64, 0xa5), 0, 64, 4096);
      closeSync(fd);

      const s = await openSession(dir);
      const { page } = s.app;
      try {
        await page.getByTestId('nav-insert').click();
        const field = page.getByTestId('insert-base');
        const status = page.getByTestId('insert-base-status');
        const problem = page.getByTestId('insert-base-problem');
        const pick = async (path: string): Promise<void> => {
          s.server.queueDialog(path);
          await page.getByTestId('insert-base-choose').click();
          await page
            .getByTestId('insert-base-value')
            .and(page.locator(`[title="${path}"]`))
            .waitFor();
        };

        // the Armbian base as downloaded: looked into while the field says so, then nothing to say
        await pick(`${base}.xz`);
        await status.waitFor();
        assert.equal(await status.textContent(), 'Checking the image…');
        assert.equal(await field.getAttribute('aria-busy'), 'true');
        await shot(page, 'insert-base-checking');
        await status.waitFor({ state: 'detached', timeout: 60_000 });
        assert.equal(await problem.count(), 0, 'an Armbian base inside an .xz is accepted as picked');
        assert.equal(await field.getAttribute('aria-invalid'), null);
        await shot(page, 'insert-base-archive-recognised');

        // a golden image inside an .xz: the phase rule, before Build
        await pick(`${golden.output}.xz`);
        await problem.waitFor({ timeout: 60_000 });
        assert.equal(await problem.getAttribute('data-code'), 'PHASE_RULE');
        assert.match((await problem.textContent()) ?? '', /already carries the Atlas firstboot/);
        assert.equal(await field.getAttribute('aria-invalid'), 'true');
        await shot(page, 'insert-base-archive-golden');

        // an archive of something else
        await pick(`${photos}.gz`);
        await problem.and(page.locator('[data-code="NOT_ARMBIAN_BASE"]')).waitFor({ timeout: 60_000 });
        assert.match(
          (await problem.textContent()) ?? '',
          /holiday-photos\.img\.gz is not a base Armbian image/,
        );
        await shot(page, 'insert-base-archive-not-armbian');

        // a damaged archive: said as damaged, with what to do
        await pick(damaged);
        await problem.and(page.locator('[data-code="CORRUPT_ARCHIVE"]')).waitFor({ timeout: 60_000 });
        assert.match((await problem.textContent()) ?? '', /is damaged.*Download or copy it again/);
        assert.doesNotMatch((await problem.textContent()) ?? '', /--[a-z]/);
        await shot(page, 'insert-base-archive-damaged');

        // one base replaced by another while it is being checked: the field answers for the one chosen
        await pick(`${golden.output}.xz`);
        await pick(`${base}.xz`);
        await status.waitFor({ state: 'detached', timeout: 60_000 });
        assert.equal(await problem.count(), 0, 'the answer is the second base’s');
        assert.deepEqual(s.app.consoleErrors, []);
      } finally {
        await s.close();
      }
    } finally {
      cleanup();
    }
  },
);
