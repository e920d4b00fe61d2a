/**
 * Sizes and failures as a person meets them on Flash (issue 12, points 1 and 5), in Chromium over the real
 * handlers and the real flash job: each archive format's unpacked size is said before anyone confirms and
 * marks a card too small for it (.zip and .zst exactly, a .gz as a floor, a .gz of several members as not
 * recorded); a flash that fails (an archive damaged past its start) is titled as failed and its button says
 * "Try again", while the stage announcements carry stages only. Pictures go to test-results/screens/.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { fakeCard, fileDeviceJobs } from './serve';
import { chooseFlash, openSession, SHOTS } from './browser';
import { run, scratchDir, shell } from '../support/sh';
import { STAGE_LABELS } from '../../main/shared/stages';
import { AtlasError } from '../../main/engine/errors';
import type { DeviceJobRunner } from '../../main/app/handlers';

const MIB = 1024 * 1024;
const shot = (page: Page, name: string) =>
  page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });

test('flash: each archive format says its unpacked size before confirming and marks a card too small for it', async () => {
  const { dir, cleanup } = scratchDir('atlas-e2e-formats-');
  // 40 MiB: more than the 32 MB card holds, less than the 64 MiB one
  const raw = join(dir, 'kiosk.img');
  writeFileSync(raw, Buffer.concat([randomBytes(MIB), Buffer.alloc(39 * MIB)]));
  run('gzip', ['-1', '-k', raw]);
  run('zstd', ['-q', '-1', raw, '-o', `${raw}.zst`]);
  run('zip', ['-q', '-1', '-j', join(dir, 'kiosk.zip'), raw]);
  // two gzip members, the last a small one: the trailer tells only the last one's size (here less than the
  // file itself), so the size is not known before writing
  const members = join(dir, 'kiosk-parts.img.gz');
  shell(
    `head -c ${40 * MIB - 4096} '${raw}' | gzip -1 > '${members}'; tail -c 4096 '${raw}' | gzip -1 >> '${members}'`,
  );
  const small = fakeCard(join(dir, 'sdz.img'), { description: 'Old 32 MB card', size: 32 * MIB });
  const big = fakeCard(join(dir, 'sdx.img'), { description: 'SanDisk Ultra', size: 64 * MIB });
  const s = await openSession(dir, { drives: [small, big] });
  const { page } = s.app;
  try {
    await page.getByTestId('nav-flash').click();
    const info = page.getByTestId('flash-image-info');
    const cases: Array<[string, RegExp, boolean]> = [
      [join(dir, 'kiosk.zip'), /^Compressed \(\.zip\), [\d.]+ [KM]iB; unpacks to 40\.0 MiB$/, true],
      [`${raw}.zst`, /^Compressed \(\.zst\), [\d.]+ [KM]iB; unpacks to 40\.0 MiB$/, true],
      [`${raw}.gz`, /^Compressed \(\.gz\), [\d.]+ [KM]iB; unpacks to at least 40\.0 MiB$/, true],
      [members, /its unpacked size is not recorded, so each card's room is checked as it is written/, false],
    ];
    for (const [path, said, marksSmall] of cases) {
      s.server.queueDialog(path);
      await page.getByTestId('flash-image-choose').click();
      await page
        .getByTestId('flash-image-value')
        .and(page.locator(`[title="${path}"]`))
        .waitFor();
      await info.filter({ hasText: said }).waitFor();
      const option = page.getByTestId(`drive-option-${small.device}`);
      assert.equal(
        await option.isDisabled(),
        marksSmall,
        `${path}: the 32 MB card can${marksSmall ? 'not' : ''} be chosen`,
      );
      assert.equal(/Too small/.test((await page.getByTestId('drive-list').textContent()) ?? ''), marksSmall);
      assert.equal(await page.getByTestId(`drive-option-${big.device}`).isDisabled(), false);
      // each card in the dropdown by its name, size, bus and serial, with its badges
      const label = page.locator(
        `label[for="${await page.getByTestId(`drive-option-${big.device}`).getAttribute('id')}"]`,
      );
      assert.match((await label.textContent()) ?? '', /^SanDisk Ultra.*· 67 MB · USB · S\/N SN-sdx\.img/);
      await shot(
        page,
        `flash-size-${path.endsWith('parts.img.gz') ? 'gz-unrecorded' : path.split('.').pop()}`,
      );
    }
    assert.deepEqual(s.app.consoleErrors, []);
  } finally {
    await s.close();
    cleanup();
  }
});

test('flash: a failed job is titled failed and offers "Try again"; the announcements carry stages only', async () => {
  const { dir, cleanup } = scratchDir('atlas-e2e-failed-');
  const raw = join(dir, 'kiosk.img');
  writeFileSync(raw, randomBytes(24 * MIB));
  run('xz', ['-T1', '-0', raw]);
  // a bad download: its index (hence its size) intact, its data damaged in the middle
  const image = `${raw}.xz`;
  const fd = openSync(image, 'r+');
  writeSync(fd, Buffer.alloc(4096, 0xa5), 0, 4096, statSync(image).size >> 1);
  closeSync(fd);
  const card = fakeCard(join(dir, 'sdx.img'), { description: 'SanDisk Ultra', size: 64 * MIB });
  writeFileSync(card.device, '');
  run('truncate', ['-s', '64M', card.device]);
  // the job's progress held up a little, so the page surely shows it running
  const slowed: DeviceJobRunner = (kind, request, control) =>
    fileDeviceJobs(kind, request, {
      signal: control.signal,
      onProgress: (p) => {
        control.onProgress?.(p);
        const until = Date.now() + 40;
        while (Date.now() < until);
      },
    });
  const s = await openSession(dir, { drives: [card], runDeviceJob: slowed, defaultDialogAnswers: { image } });
  const { page } = s.app;
  try {
    await page.getByTestId('nav-flash').click();
    await page.getByTestId('flash-image-choose').click();
    await page.getByTestId('flash-image-info').filter({ hasText: 'unpacks to 24.0 MiB' }).waitFor();
    await page.getByTestId(`drive-option-${card.device}`).check();
    await page.getByTestId('flash-start').click();
    await page.getByTestId('confirm-ok').click();

    // while it runs: one polite live region, saying the stage and nothing that ticks
    const progress = page.getByTestId('progress');
    await progress.waitFor();
    assert.equal(await progress.getAttribute('aria-live'), null, 'the progress card is not a live region');
    assert.equal(await progress.getAttribute('role'), null);
    assert.equal(await progress.locator('[aria-live]').count(), 1);
    const announced = (await page.getByTestId('progress-announce').textContent()) ?? '';
    assert.ok(
      ['Starting', ...Object.values(STAGE_LABELS)].includes(announced),
      `"${announced}" is a stage, nothing that ticks`,
    );

    const error = page.getByTestId('flash-error');
    await error.waitFor({ timeout: 60_000 });
    assert.equal(await error.getAttribute('data-code'), 'CORRUPT_ARCHIVE');
    assert.equal(await error.getAttribute('role'), 'alert');
    assert.match((await error.textContent()) ?? '', /^Flash failed/);
    assert.match((await error.textContent()) ?? '', /kiosk\.img\.xz is damaged/);
    assert.doesNotMatch((await error.textContent()) ?? '', /--[a-z]/);
    assert.equal(await page.getByTestId('flash-again').textContent(), 'Try again');
    await shot(page, 'flash-failed');
    assert.deepEqual(s.app.consoleErrors, []);
  } finally {
    await s.close();
    cleanup();
  }
});

test('flash: a job that failed on every card shows each card with its own error, side by side', async () => {
  const { dir, cleanup } = scratchDir('atlas-e2e-every-card-');
  const image = join(dir, 'kiosk.img');
  writeFileSync(image, randomBytes(4 * MIB));
  const cards = ['sdx', 'sdy'].map((n, i) =>
    fakeCard(join(dir, `${n}.img`), {
      description: i === 0 ? 'SanDisk Ultra' : 'Samsung EVO',
      size: 64 * MIB,
    }),
  );
  // the job's error as the engine's everyCardFailed makes it: each card's result in the details
  const everyFailed: DeviceJobRunner = async () => {
    throw new AtlasError('IO_ERROR', 'Every card failed. …', {
      targets: cards.map((c, i) => ({
        device: c.device,
        ok: false,
        error: {
          code: i === 0 ? 'IO_ERROR' : 'VERIFY_MISMATCH',
          message:
            i === 0
              ? `Writing ${c.device} at byte 1048576 (1.0 MiB of the image written): input/output error.`
              : `Verification failed on ${c.device}: the card differs from the image at byte 8192.`,
        },
      })),
    });
  };
  const s = await openSession(dir, {
    drives: cards,
    runDeviceJob: everyFailed,
    defaultDialogAnswers: { image },
  });
  const { page } = s.app;
  try {
    await chooseFlash(
      page,
      cards.map((c) => c.device),
    );
    await page.getByTestId('flash-start').click();
    await page.getByTestId('confirm-ok').click();
    const error = page.getByTestId('flash-error');
    await error.waitFor();
    assert.equal(await page.getByTestId('flash-error-message').textContent(), 'Every card failed.');
    const [first, second] = cards as [(typeof cards)[0], (typeof cards)[0]];
    assert.match(
      (await page.getByTestId(`flash-error-${first.device}`).textContent()) ?? '',
      /^SanDisk Ultra.*Failed: Writing .* at byte 1048576 \(1\.0 MiB of the image written\): input\/output error\.$/,
    );
    assert.match(
      (await page.getByTestId(`flash-error-${second.device}`).textContent()) ?? '',
      /^Samsung EVO.*Failed: Verification failed on .*differs from the image at byte 8192\.$/,
    );
    await shot(page, 'flash-every-card-failed');
    assert.deepEqual(s.app.consoleErrors, []);
  } finally {
    await s.close();
    cleanup();
  }
});
