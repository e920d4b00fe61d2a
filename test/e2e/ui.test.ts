/**
 * The renderer in real Chromium over the same createHandlers as the app, with fake cards (image files) and
 * scripted dialogs. Screenshots go to test-results/screens/ for a person to look at.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fakeCard, SYSTEM_DISK, type TestServer, type TestServerOptions } from './serve';
import { chooseFlash, openSession, SHOTS, type AppSession, type OpenedApp } from './browser';
import { scratchDir } from '../support/sh';
import { BAD_TAGS, GOOD_TAGS } from '../support/tag-cases';

async function withApp(
  setup: (dir: string) => Partial<TestServerOptions>,
  body: (ctx: { server: TestServer; app: OpenedApp; dir: string }) => Promise<void>,
): Promise<void> {
  const { dir, cleanup } = scratchDir('atlas-e2e-');
  let session: AppSession | null = null;
  try {
    session = await openSession(dir, setup(dir));
    const { server, app } = session;
    await body({ server, app, dir });
    assert.deepEqual(app.consoleErrors, [], 'the page logged no errors (CSP, React)');
  } finally {
    await session?.close();
    cleanup();
  }
}

test('home shows the phases and the rule; navigation works from the keyboard', async () => {
  await withApp(
    () => ({}),
    async ({ app: { page } }) => {
      assert.equal(
        await page.getByTestId('phase-rule').textContent(),
        'Insert creates Phase 0. Clone creates Phase 1. Never cross these.',
      );
      await page.screenshot({ path: join(SHOTS, 'home.png') });
      await page.getByTestId('nav-flash').focus();
      await page.keyboard.press('Enter');
      await page.getByTestId('page-flash').waitFor();
      assert.equal(await page.getByTestId('nav-flash').getAttribute('aria-current'), 'page');
    },
  );
});

test('flash: the drive list hides system disks, warns on large drives and follows hot-plug', async () => {
  await withApp(
    (dir) => {
      const image = join(dir, 'atlas.img');
      writeFileSync(image, Buffer.alloc(1024 * 1024, 7));
      return { drives: [SYSTEM_DISK] };
    },
    async ({ server, app: { page }, dir }) => {
      await page.getByTestId('nav-flash').click();
      await page.getByTestId('no-drives').waitFor();
      // a card is plugged in
      const small = fakeCard(join(dir, 'sdx.img'), { description: 'SanDisk Ultra', size: 32e9 });
      const big = fakeCard(join(dir, 'sdy.img'), { description: 'WD Passport', size: 500e9, large: true });
      server.setDrives([SYSTEM_DISK, small, big]);
      await page.getByTestId(`drive-option-${small.device}`).waitFor();
      assert.equal(
        await page.getByTestId(`drive-option-${SYSTEM_DISK.device}`).count(),
        0,
        'the system disk is hidden',
      );
      assert.match((await page.getByTestId('drive-list').textContent()) ?? '', /Large drive/);
      await page.getByTestId('show-all-drives').check();
      const system = page.getByTestId(`drive-option-${SYSTEM_DISK.device}`);
      await system.waitFor();
      assert.equal(await system.isDisabled(), true, 'the system disk can be seen but not chosen');
      await page.screenshot({ path: join(SHOTS, 'flash-drives.png'), fullPage: true });
      // the card is pulled out again
      server.setDrives([SYSTEM_DISK, big]);
      await page.getByTestId(`drive-option-${small.device}`).waitFor({ state: 'detached' });
    },
  );
});

test('flash: a confirmed card swapped while the dialog is open leaves it and cannot be confirmed', async () => {
  let cardPath = '';
  await withApp(
    (dir) => {
      const image = join(dir, 'atlas.img');
      writeFileSync(image, Buffer.alloc(1024 * 1024, 7));
      cardPath = join(dir, 'sdx.img');
      return { drives: [fakeCard(cardPath)], defaultDialogAnswers: { image } };
    },
    async ({ server, app: { page } }) => {
      await chooseFlash(page, [cardPath]);
      await page.getByTestId('flash-verify').uncheck();
      assert.match((await page.getByTestId('skip-verify-note').textContent()) ?? '', /faulty card or reader/);
      // a raw image offers the used-blocks-only mode, labelled for what it leaves on the card
      await page.getByTestId('flash-used-only').check();
      assert.match((await page.getByTestId('used-only-note').textContent()) ?? '', /keeps whatever it held/);
      await page.getByTestId('flash-start').click();
      const dialog = page.getByTestId('confirm-dialog');
      await dialog.waitFor();
      assert.match((await page.getByTestId('confirm-targets').textContent()) ?? '', /sdx\.img/);
      assert.match((await dialog.textContent()) ?? '', /Only the used blocks will be written/);
      // Escape cancels, focus started on Cancel
      assert.equal(await page.locator(':focus').getAttribute('data-testid'), 'confirm-cancel');
      await page.keyboard.press('Escape');
      await dialog.waitFor({ state: 'detached' });
      await page.getByTestId('flash-start').click();
      await page.screenshot({ path: join(SHOTS, 'flash-confirm.png') });
      // someone swaps the card for another of the same name while the dialog is open: the dialog drops it
      // (main would refuse it too: DRIVE_CHANGED, tested with the handlers)
      server.setDrives([fakeCard(cardPath, { serial: 'SWAPPED' })]);
      await page.getByTestId('confirm-removed').waitFor();
      assert.equal(await page.getByTestId('confirm-ok').isDisabled(), true);
      await page.screenshot({ path: join(SHOTS, 'flash-confirm-swapped.png') });
    },
  );
});

test('insert: the output name previews as typed; the secrets path is shown, never its content', async () => {
  await withApp(
    (dir) => {
      const files = ['base.img', 'atlas_firstboot.sh', 'atlas-firstboot.service', 'atlas_secrets.conf'];
      for (const f of files)
        writeFileSync(join(dir, f), f === 'atlas_secrets.conf' ? 'WIFI_PSK=hunter2\n' : '#!/bin/sh\n');
      return {};
    },
    async ({ server, app: { page }, dir }) => {
      await page.getByTestId('nav-insert').click();
      assert.equal(await page.getByTestId('insert-start').isDisabled(), true);
      for (const [id, name] of [
        ['insert-base', 'base.img'],
        ['insert-firstboot', 'atlas_firstboot.sh'],
        ['insert-service', 'atlas-firstboot.service'],
        ['insert-secrets', 'atlas_secrets.conf'],
      ] as const) {
        server.queueDialog(join(dir, name));
        await page.getByTestId(`${id}-choose`).click();
        await page.getByTestId(`${id}-value`).waitFor();
      }
      await page.getByTestId('insert-version').fill('8');
      await page.getByTestId('insert-patch').fill('1');
      // the preview and the Build button follow the one tag rule (test/support/tag-cases.ts)
      // (the field trims what is typed, so 'FLASH\n' arrives as FLASH: the rows with outer white space are left out)
      for (const tag of BAD_TAGS.filter((t) => t === t.trim())) {
        await page.getByTestId('insert-tag').fill(tag);
        assert.equal(await page.getByTestId('insert-start').isDisabled(), true, JSON.stringify(tag));
        assert.equal(await page.getByTestId('insert-output-name').count(), 0, JSON.stringify(tag));
      }
      for (const tag of GOOD_TAGS) {
        await page.getByTestId('insert-tag').fill(tag);
        // these stand-in files are no Armbian base and no unit: Build waits on those, not on the tag
        assert.equal(
          await page.getByTestId('insert-start-reason').textContent(),
          'Fix the problems marked above.',
          tag,
        );
        assert.equal(
          await page.getByTestId('insert-output-name').textContent(),
          `ods-atlas-golden-v8-1-${tag}.img`,
        );
      }
      await page.getByTestId('insert-tag').fill('FIELD');
      assert.equal(
        await page.getByTestId('insert-output-name').textContent(),
        'ods-atlas-golden-v8-1-FIELD.img',
      );
      const text = (await page.textContent('body')) ?? '';
      assert.ok(text.includes(join(dir, 'atlas_secrets.conf')), 'the secrets path is shown');
      assert.ok(!text.includes('hunter2'), 'the secrets content is not');
      await page.screenshot({ path: join(SHOTS, 'insert-form.png'), fullPage: true });
    },
  );
});
