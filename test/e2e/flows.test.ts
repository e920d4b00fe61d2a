/**
 * End-to-end flows through the real engine jobs, driven from the UI in Chromium: Flash writes an image onto
 * two "cards" (sparse files) and verifies them; Insert builds a golden image from the project's Armbian-like
 * fixture; a wrong base image shows the engine's refusal. Device jobs run in process here (the files need no
 * privilege); production sends them to the elevated helper.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { fakeCard, fileDeviceJobs, SYSTEM_DISK } from './serve';
import { chooseFlash, openSession, SHOTS } from './browser';
import { run, scratchDir } from '../support/sh';
import { makeArmbianImage, skipWithoutFixtureTools } from '../support/armbian';
import { inProcessFileJobs } from '../../main/app/production';
import { prehashBase } from '../../main/engine/jobs/insert';
import type { DeviceJobRunner } from '../../main/app/handlers';

/** The device jobs, each progress report held up a little: the job is surely running while the page looks. */
function slowed(ms: number): DeviceJobRunner {
  return (kind, request, control) =>
    fileDeviceJobs(kind, request, {
      signal: control.signal,
      onProgress: (p) => {
        control.onProgress?.(p);
        const until = Date.now() + ms;
        while (Date.now() < until);
      },
    });
}

test('flash: an image written to two cards through the real flash job, a bar per card, verified, byte-equal', async () => {
  const { dir, cleanup } = scratchDir('atlas-e2e-flash-');
  const image = join(dir, 'ods-atlas-golden-v8-1-FIELD.img');
  const data = randomBytes(48 * 1024 * 1024);
  writeFileSync(image, data);
  // the checksum file vault sync writes beside an image: the result quotes it
  const sha256 = createHash('sha256').update(data).digest('hex');
  writeFileSync(
    join(dir, 'ods-atlas-golden-v8-1-FIELD.sha256'),
    `${sha256}  ods-atlas-golden-v8-1-FIELD.img\n`,
  );
  const cards = ['sdx.img', 'sdy.img'].map((name) => {
    const path = join(dir, name);
    writeFileSync(path, '');
    run('truncate', ['-s', '64M', path]);
    return fakeCard(path, { description: `Card ${name}` });
  });
  const s = await openSession(dir, {
    drives: [...cards, SYSTEM_DISK],
    runDeviceJob: slowed(60),
    defaultDialogAnswers: { image },
  });
  const { page } = s.app;
  try {
    await chooseFlash(
      page,
      cards.map((c) => c.device),
    );
    assert.equal(await page.getByTestId('flash-start').textContent(), 'Flash 2 cards…');
    await page.getByTestId('flash-start').click();
    const targets = (await page.getByTestId('confirm-targets').textContent()) ?? '';
    assert.ok(
      cards.every((c) => targets.includes(c.device)),
      'the dialog names every card',
    );
    await page.getByTestId('confirm-ok').click();
    // one bar per card, named as the person knows it (model and size), the /dev path beside it
    const bar = page.getByTestId(`card-progress-${cards[1]!.device}`);
    await bar.waitFor();
    assert.match((await bar.textContent()) ?? '', /^Card sdy\.img \(67 MB\)/);
    assert.equal(await bar.locator('.path-small').textContent(), cards[1]!.device);
    assert.equal(await page.getByTestId('card-progress').locator('progress').count(), 2);
    assert.match((await bar.getAttribute('data-state')) ?? '', /^(writing|finishing|verifying)$/);
    await page.screenshot({ path: join(SHOTS, 'flash-progress-per-card.png') });
    const done = page.getByTestId('flash-done');
    await done.waitFor({ timeout: 60_000 });
    assert.match((await done.textContent()) ?? '', /Flashed and verified/);
    await page.screenshot({ path: join(SHOTS, 'flash-done.png') });
    for (const card of cards) {
      const written = readFileSync(card.device).subarray(0, data.length);
      assert.ok(written.equals(data), `${card.device} holds the image`);
      const result = page.getByTestId(`flash-results-${card.device}`);
      assert.match((await result.textContent()) ?? '', /^Card sd.\.img \(67 MB\).*Written and verified/);
      assert.equal(
        await page.getByTestId(`flash-results-${card.device}-safe`).textContent(),
        'Safe to remove',
      );
    }
    assert.equal(await page.getByTestId('flash-results-sha256').textContent(), sha256);
    assert.match((await page.getByTestId('flash-results-speed').textContent()) ?? '', /^\d+\.\d MB\/s$/);
    assert.match((await page.getByTestId('flash-results-time').textContent()) ?? '', /^\d+:\d\d$/);
    // the operator's job log on the Library page has the flash, with both cards
    await page.getByTestId('nav-library').click();
    const entry = page.getByTestId('job-log-entry').first();
    await entry.waitFor();
    const line = (await entry.textContent()) ?? '';
    assert.match(line, /Flash.*ods-atlas-golden-v8-1-FIELD\.img.*Card sdx\.img.*Card sdy\.img.*done/);
    assert.deepEqual(s.app.consoleErrors, []);
  } finally {
    await s.close();
    cleanup();
  }
});

test('flash: cancel mid-write ends the job as cancelled and says what it means for the card', async () => {
  const { dir, cleanup } = scratchDir('atlas-e2e-cancel-');
  const image = join(dir, 'big.img');
  writeFileSync(image, '');
  run('truncate', ['-s', '2G', image]);
  const card = join(dir, 'sdx.img');
  writeFileSync(card, '');
  run('truncate', ['-s', '3G', card]);
  const s = await openSession(dir, {
    drives: [fakeCard(card, { size: 3 * 1024 ** 3 })],
    // a slow card: the job is surely running when Cancel is pressed
    runDeviceJob: slowed(30),
    defaultDialogAnswers: { image },
  });
  const { page } = s.app;
  try {
    await page.getByTestId('nav-flash').click();
    await page.getByTestId('flash-image-choose').click();
    await page.getByTestId('flash-image-info').waitFor();
    await page.getByTestId(`drive-option-${card}`).check();
    await page.getByTestId('flash-start').click();
    await page.getByTestId('confirm-ok').click();
    await page.getByTestId('progress-percent').waitFor();
    await page.getByTestId('progress-rate').filter({ hasText: 'MB/s' }).waitFor();
    await page.screenshot({ path: join(SHOTS, 'flash-progress.png') });
    await page.getByTestId('cancel-job').click();
    const error = page.getByTestId('flash-error');
    await error.waitFor({ timeout: 60_000 });
    assert.equal(await error.getAttribute('data-code'), 'CANCELLED');
    assert.match((await error.textContent()) ?? '', /write it again before using it/);
    // cancelling is the person's choice, not a failure: neutral, no red title, and the button starts again
    assert.equal(await error.getAttribute('role'), 'status');
    assert.match((await error.textContent()) ?? '', /^Cancelled/);
    assert.doesNotMatch((await page.getByTestId('page-flash').textContent()) ?? '', /failed/i);
    assert.equal(await page.getByTestId('flash-again').textContent(), 'Flash again');
    await page.screenshot({ path: join(SHOTS, 'flash-cancelled.png') });
  } finally {
    await s.close();
    cleanup();
  }
});

test(
  'insert: a golden image built from the Armbian-like fixture, with the manifest summary',
  { skip: skipWithoutFixtureTools() },
  async () => {
    const { dir, cleanup } = scratchDir('atlas-e2e-insert-');
    const base = makeArmbianImage(join(dir, 'Armbian_26.2.1_Rpi4b_trixie_current_6.18.9_minimal.img'));
    const inputs = {
      firstboot: join(dir, 'atlas_firstboot.sh'),
      service: join(dir, 'atlas-firstboot.service'),
      secrets: join(dir, 'atlas_secrets.conf'),
    };
    writeFileSync(inputs.firstboot, '#!/bin/bash\nset -euo pipefail\necho "atlas firstboot"\n');
    writeFileSync(
      inputs.service,
      '[Unit]\nDescription=ODS Atlas first boot\n\n[Service]\nType=oneshot\nExecStart=/usr/local/sbin/atlas_firstboot.sh\n\n[Install]\nWantedBy=multi-user.target\n',
    );
    writeFileSync(inputs.secrets, 'ATLAS_ENROLL_TOKEN=never-shown-4242\n');
    chmodSync(inputs.secrets, 0o600);
    const build = join(dir, 'atlas-build');
    // the page starts the base's hash as soon as the base is chosen (see insert:prepare-base)
    const hashedAhead: string[] = [];
    const s = await openSession(dir, {
      fileJobs: inProcessFileJobs,
      prehashBase: (chosen, buildFolder, signal) => {
        hashedAhead.push(chosen);
        return prehashBase(chosen, buildFolder, signal);
      },
    });
    const { page } = s.app;
    try {
      await page.getByTestId('nav-insert').click();
      for (const [id, path] of [
        ['insert-base', base],
        ['insert-firstboot', inputs.firstboot],
        ['insert-service', inputs.service],
        ['insert-secrets', inputs.secrets],
      ] as const) {
        s.server.queueDialog(path);
        await page.getByTestId(`${id}-choose`).click();
        await page.getByTestId(`${id}-value`).waitFor();
      }
      await page.getByTestId('insert-version').fill('8');
      await page.getByTestId('insert-patch').fill('1');
      await page.getByTestId('insert-tag').fill('FIELD');
      assert.equal(
        await page.getByTestId('insert-output-name').textContent(),
        'ods-atlas-golden-v8-1-FIELD.img',
      );
      // asked for when the base was chosen; the request travels on its own, so give it a moment
      for (let i = 0; i < 100 && hashedAhead.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(hashedAhead, [base], 'the base was hashed ahead, once');
      await page.getByTestId('insert-start').click();
      const done = page.getByTestId('insert-done');
      await done.waitFor({ timeout: 120_000 });
      assert.equal(
        await page.getByTestId('insert-done-output').textContent(),
        'ods-atlas-golden-v8-1-FIELD.img',
      );
      assert.ok(existsSync(join(build, 'ods-atlas-golden-v8-1-FIELD.img')), 'written into ~/atlas-build');
      const manifest = (await page.getByTestId('insert-manifest').textContent()) ?? '';
      assert.match(manifest, /\/usr\/local\/sbin\/atlas_firstboot\.sh/);
      assert.match(manifest, /0600/);
      assert.match(manifest, /HMAC [0-9a-f]{16}…/, 'the secrets by their keyed digest');
      assert.equal(statSync(join(build, 'ods-atlas-golden-v8-1-FIELD.img')).mode & 0o777, 0o600);
      assert.ok(
        !((await page.textContent('body')) ?? '').includes('never-shown-4242'),
        'no secret on screen',
      );
      await page.screenshot({ path: join(SHOTS, 'insert-done.png'), fullPage: true });
      // the result leads on: Flash this image opens Flash with the new image chosen
      await page.getByTestId('insert-flash').click();
      await page.getByTestId('page-flash').waitFor();
      assert.equal(
        await page.getByTestId('flash-image-value').getAttribute('title'),
        join(build, 'ods-atlas-golden-v8-1-FIELD.img'),
      );
      await page.getByTestId('flash-image-info').waitFor();
      await page.getByTestId('nav-insert').click();

      // the same inputs again: the clash is said before Build, with the choice to replace
      await page.getByTestId('insert-again').click();
      const clash = page.getByTestId('insert-output-problem');
      await clash.waitFor();
      assert.match(
        (await clash.textContent()) ?? '',
        /already exists\. Choose another version or tag, or replace/,
      );
      assert.equal(await page.getByTestId('insert-start').getAttribute('aria-disabled'), 'true');
      await page.getByTestId('insert-replace').check();
      await clash.waitFor({ state: 'detached' });
      assert.equal(await page.getByTestId('insert-start-reason').count(), 0, 'replacing: Build is open');
      await page.getByTestId('insert-replace').uncheck();
      await clash.waitFor();

      // a golden image is not a base: said on the base field as soon as it is chosen
      s.server.queueDialog(join(build, 'ods-atlas-golden-v8-1-FIELD.img'));
      await page.getByTestId('insert-base-choose').click();
      await page.getByTestId('insert-tag').fill('AGAIN');
      const refused = page.getByTestId('insert-base-problem');
      await refused.waitFor();
      // the golden image is an Armbian image that already carries the Atlas firstboot
      assert.equal(await refused.getAttribute('data-code'), 'PHASE_RULE');
      assert.equal(await page.getByTestId('insert-base').getAttribute('aria-invalid'), 'true');
      await page.screenshot({ path: join(SHOTS, 'insert-refused.png'), fullPage: true });
      assert.deepEqual(s.app.consoleErrors, []);
    } finally {
      await s.close();
      cleanup();
    }
  },
);

test(
  'clone → library → restore: a card cloned, listed as Phase 1, verified, restored to another card',
  { skip: skipWithoutFixtureTools() },
  async () => {
    const { dir, cleanup } = scratchDir('atlas-e2e-phase1-');
    const source = makeArmbianImage(join(dir, 'dev-card.img'));
    const target = join(dir, 'blank-card.img');
    writeFileSync(target, '');
    run('truncate', ['-s', '320M', target]);
    const build = join(dir, 'atlas-build');
    mkdirSync(build);
    const sourceCard = fakeCard(source, { description: 'Dev kiosk card', size: readFileSync(source).length });
    const targetCard = fakeCard(target, { description: 'Blank card', size: 320 * 1024 * 1024 });
    const tiny = fakeCard(join(dir, 'tiny-card.img'), { description: 'Tiny card', size: 8 * 1024 * 1024 });
    const s = await openSession(dir, {
      drives: [sourceCard, targetCard, tiny],
      runDeviceJob: fileDeviceJobs,
      fileJobs: inProcessFileJobs,
    });
    const { page } = s.app;
    try {
      // Clone
      await page.getByTestId('nav-clone').click();
      await page.getByTestId(`drive-option-${source}`).click(); // one card: the dropdown closes on it
      await page.getByTestId('clone-tag').fill('v8-1-0-FEATURE');
      assert.equal(await page.getByTestId('clone-output-name').textContent(), 'golden-clone-v8-1-0-FEATURE/');
      await page.getByTestId('clone-start').click();
      await page.getByTestId('clone-done').waitFor({ timeout: 120_000 });
      const folder = join(build, 'golden-clone-v8-1-0-FEATURE');
      assert.ok(existsSync(join(folder, 'atlas-manifest.json')), 'the clone folder is complete');
      await page.screenshot({ path: join(SHOTS, 'clone-done.png'), fullPage: true });

      // Library: listed as Phase 1 with its tag; its verify button runs the real verification
      await page.getByTestId('nav-library').click();
      const row = page.getByTestId('library-row-golden-clone-v8-1-0-FEATURE');
      await row.waitFor();
      assert.match((await row.textContent()) ?? '', /Phase 1.*v8-1-0-FEATURE/);
      assert.ok(
        await page.getByTestId('library-unavailable-vault').isVisible(),
        'the unplugged vault is reported',
      );
      await page.getByTestId('library-verify-golden-clone-v8-1-0-FEATURE').click();
      await row.getByText('Verified').waitFor({ timeout: 60_000 });
      await page.screenshot({ path: join(SHOTS, 'library.png'), fullPage: true });

      // Restore, from Clone's result: the folder is chosen, with the card size it needs; the card list stays
      // locked until the folder verified, and a card too small for it cannot be chosen
      await page.getByTestId('nav-clone').click();
      await page.getByTestId('clone-restore').click();
      await page.getByTestId('page-restore').waitFor();
      assert.match(
        (await page.getByTestId('restore-folder-info').textContent()) ?? '',
        /Needs a card of at least \d+(\.\d+)? MiB/,
      );
      assert.equal(await page.getByTestId('restore-start').isDisabled(), true);
      await page.getByTestId('restore-verify').click();
      await page.getByTestId('restore-verify-result').waitFor({ timeout: 60_000 });
      assert.equal(await page.getByTestId(`drive-option-${tiny.device}`).isDisabled(), true);
      assert.match((await page.getByTestId('drive-list').textContent()) ?? '', /Too small/);
      await page.screenshot({ path: join(SHOTS, 'restore-too-small.png'), fullPage: true });
      await page.getByTestId(`drive-option-${target}`).click();
      assert.match((await page.getByTestId('restore-card').textContent()) ?? '', /Blank card/);
      await page.getByTestId('restore-start').click();
      assert.match((await page.getByTestId('confirm-dialog').textContent()) ?? '', /Blank card/);
      await page.getByTestId('confirm-ok').click();
      await page.getByTestId('restore-done').waitFor({ timeout: 120_000 });
      await page.screenshot({ path: join(SHOTS, 'restore-done.png'), fullPage: true });
      // the restored card carries the source's boot partition entry and disk id; root was grown to the bigger card
      const [was, now] = [readFileSync(source).subarray(0, 512), readFileSync(target).subarray(0, 512)];
      assert.ok(
        now.subarray(440, 462).equals(was.subarray(440, 462)),
        'same disk id and boot partition entry',
      );
      assert.ok(now.readUInt32LE(462 + 12) > was.readUInt32LE(462 + 12), 'the root partition grew');
      assert.deepEqual(s.app.consoleErrors, []);
    } finally {
      await s.close();
      cleanup();
    }
  },
);
