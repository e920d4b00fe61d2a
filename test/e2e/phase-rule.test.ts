/**
 * The Phase rule in the app, through the real clone job: a card holding a golden image that never booted is
 * refused with what to do and the safety net's override; ticking "Clone anyway (safety net)" clones it, marked as
 * never booted; the Library shows the lineage both ways (the clone's parent, the golden image's clones).
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { fakeCard, fileDeviceJobs } from './serve';
import { openSession, SHOTS } from './browser';
import { scratchDir } from '../support/sh';
import { makeArmbianImage, skipWithoutFixtureTools } from '../support/armbian';
import { insertJob } from '../../main/engine/jobs/insert';

const GOLDEN = 'ods-atlas-golden-v8-1-FIELD.img';

test(
  'clone of a never-booted golden card: refused, then cloned anyway as a safety net; the Library shows lineage',
  { skip: skipWithoutFixtureTools() },
  async () => {
    const { dir, cleanup } = scratchDir('atlas-e2e-phase-');
    const build = join(dir, 'atlas-build');
    mkdirSync(build);
    const input = (name: string, text: string, mode: number): string => {
      writeFileSync(join(dir, name), text);
      chmodSync(join(dir, name), mode);
      return join(dir, name);
    };
    const golden = await insertJob({
      base: makeArmbianImage(join(dir, 'Armbian_26.2.1_Rpi4b_trixie_current_6.18.9_minimal.img')),
      firstboot: input('atlas_firstboot.sh', '#!/bin/bash\necho atlas\n', 0o755),
      service: input(
        'atlas-firstboot.service',
        '[Unit]\nDescription=Atlas\n[Service]\nType=oneshot\nExecStart=/usr/local/sbin/atlas_firstboot.sh\n[Install]\nWantedBy=multi-user.target\n',
        0o644,
      ),
      secrets: input('atlas_secrets.conf', 'TOKEN=e2e\n', 0o600),
      version: 8,
      patch: 1,
      tag: 'FIELD',
      outDir: build,
    });
    // the golden image flashed to a card that never booted
    const cardPath = join(dir, 'fresh-card.img');
    copyFileSync(golden.output, cardPath);
    const card = fakeCard(cardPath, { description: 'Freshly flashed card', size: statSync(cardPath).size });
    const s = await openSession(dir, { drives: [card], runDeviceJob: fileDeviceJobs });
    const { page } = s.app;
    try {
      await page.getByTestId('nav-clone').click();
      await page.getByTestId(`drive-option-${cardPath}`).click();
      await page.getByTestId('clone-tag').fill('SAFETY');
      await page.getByTestId('clone-start').click();

      const error = page.getByTestId('clone-error');
      await error.waitFor({ timeout: 120_000 });
      assert.equal(await error.getAttribute('data-code'), 'PHASE_RULE');
      const message = (await page.getByTestId('clone-error-message').textContent()) ?? '';
      assert.match(message, /flash it, let it boot, then clone/);
      assert.doesNotMatch(message, /--/, 'no command-line flag in the app');
      assert.equal(existsSync(join(build, 'golden-clone-SAFETY')), false, 'nothing written');
      assert.equal(existsSync(join(build, 'golden-clone-SAFETY.partial')), false);
      assert.equal(await page.getByTestId('clone-anyway').isDisabled(), true, 'the override is asked for');
      await page.getByTestId('clone-allow-unbooted').check();
      await page.screenshot({ path: join(SHOTS, 'clone-phase-rule.png'), fullPage: true });
      await page.getByTestId('clone-anyway').click();

      await page.getByTestId('clone-done').waitFor({ timeout: 120_000 });
      assert.match((await page.getByTestId('clone-lineage').textContent()) ?? '', /never booted/);
      const manifest = JSON.parse(
        readFileSync(join(build, 'golden-clone-SAFETY', 'atlas-manifest.json'), 'utf8'),
      ) as { lineage: { parent: { image: string }; allowedUnbooted: boolean } };
      assert.equal(manifest.lineage.parent.image, GOLDEN);
      assert.equal(manifest.lineage.allowedUnbooted, true);

      await page.getByTestId('nav-library').click();
      const parentLine = page.getByTestId('library-lineage-golden-clone-SAFETY');
      await parentLine.waitFor();
      assert.match((await parentLine.textContent()) ?? '', new RegExp(`from ${GOLDEN}.*safety net`));
      assert.match(
        (await page.getByTestId(`library-lineage-${GOLDEN}`).textContent()) ?? '',
        /cloned as golden-clone-SAFETY/,
      );
      await page.screenshot({ path: join(SHOTS, 'library-lineage.png'), fullPage: true });
      assert.deepEqual(s.app.consoleErrors, []);
    } finally {
      await s.close();
      cleanup();
    }
  },
);
