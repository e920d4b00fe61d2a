/**
 * The app as a person uses it (issue 12), in Chromium over the real handlers: Home's jobs, a drop anywhere, the
 * card dropdown, the main button's reason, sizes known before confirming, a card pulled out while confirming,
 * messages written for the app, and stage-only announcements. Every state visited is saved as a picture in
 * test-results/screens/.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { fakeCard, SYSTEM_DISK, type TestServer } from './serve';
import { chooseFlash, openSession, SHOTS, type AppSession } from './browser';
import { run, scratchDir } from '../support/sh';

const MIB = 1024 * 1024;

async function withApp(
  setup: (dir: string) => Parameters<typeof openSession>[1],
  body: (ctx: { server: TestServer; page: Page; dir: string }) => Promise<void>,
): Promise<void> {
  const { dir, cleanup } = scratchDir('atlas-e2e-journey-');
  let session: AppSession | null = null;
  try {
    session = await openSession(dir, setup(dir));
    await body({ server: session.server, page: session.app.page, dir });
    assert.deepEqual(session.app.consoleErrors, [], 'the page logged no errors (CSP, React)');
  } finally {
    await session?.close();
    cleanup();
  }
}

const shot = (page: Page, name: string) =>
  page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });

/** Drops a file (or folder) on the page at `selector`, as a person dragging it from the file manager. */
async function drop(page: Page, path: string, selector = 'main'): Promise<void> {
  const name = path.split('/').pop()!;
  await page.evaluate(
    ([n, p]) => {
      (globalThis as { atlasTestDropPaths?: Record<string, string> }).atlasTestDropPaths = { [n!]: p! };
    },
    [name, path],
  );
  // runs in the page (DOM types are not in this Node project's lib)
  const transfer = await page.evaluateHandle((n) => {
    const dom = globalThis as unknown as {
      DataTransfer: new () => { items: { add(file: unknown): void } };
      File: new (parts: string[], name: string) => unknown;
    };
    const dt = new dom.DataTransfer();
    dt.items.add(new dom.File(['x'], n));
    return dt;
  }, name);
  await page.dispatchEvent(selector, 'dragover', { dataTransfer: transfer });
  await page.dispatchEvent(selector, 'drop', { dataTransfer: transfer });
}

test('home leads with the four jobs and the lifecycle; a drop anywhere goes to Flash, a clone folder to Restore', async () => {
  await withApp(
    () => ({}),
    async ({ page, dir }) => {
      const jobs = await page.locator('.home-jobs .job-button-label').allTextContents();
      assert.deepEqual(jobs, ['Flash', 'Insert', 'Clone', 'Restore'], 'Flash first, then the phases');
      assert.match(
        (await page.getByTestId('lifecycle').textContent()) ?? '',
        /Phase 0 Insert.*Phase 3 Production boot/,
      );
      await shot(page, 'home');

      const image = join(dir, 'kiosk.img');
      writeFileSync(image, Buffer.alloc(2 * MIB, 1));
      await drop(page, image);
      await page.getByTestId('page-flash').waitFor();
      assert.equal(await page.getByTestId('flash-image-value').getAttribute('title'), image);
      await page.getByTestId('flash-image-info').waitFor();

      const folder = join(dir, 'golden-clone-FIELD');
      mkdirSync(folder);
      await drop(page, folder);
      await page.getByTestId('page-restore').waitFor();
      assert.equal(await page.getByTestId('restore-folder-value').getAttribute('title'), folder);
      // not a clone (no dump): said when it is chosen, in words for the app
      const error = page.getByTestId('restore-folder-error');
      await error.waitFor();
      assert.match(
        (await error.textContent()) ?? '',
        /is not a clone folder: it has no partition-table\.dump/,
      );
      assert.doesNotMatch((await error.textContent()) ?? '', /choose the file again/i);
      await shot(page, 'restore-not-a-clone');

      // a file that is not an image: its own sentence, not "not in this build"
      const notes = join(dir, 'notes.txt');
      writeFileSync(notes, 'hello');
      await drop(page, notes);
      const refused = page.getByTestId('flash-image-error');
      await refused.waitFor();
      assert.equal(await refused.getAttribute('data-code'), 'UNSUPPORTED');
      const text = (await refused.textContent()) ?? '';
      assert.match(text, /notes\.txt is not an image Atlas Imager can write/);
      assert.doesNotMatch(text, /not in this build|--[a-z]/);
      await shot(page, 'flash-not-an-image');
    },
  );
});

test('flash: sizes known before confirming; the card dropdown; the main button says why it waits', async () => {
  await withApp(
    (dir) => {
      const raw = join(dir, 'Armbian_kiosk.img');
      writeFileSync(raw, Buffer.concat([Buffer.alloc(MIB, 9), Buffer.alloc(47 * MIB)]));
      run('xz', ['-T1', '-0', raw]);
      return {
        drives: [
          fakeCard(join(dir, 'sdx.img'), { description: 'SanDisk Ultra', size: 64 * MIB }),
          fakeCard(join(dir, 'sdy.img'), { description: 'Kingston Canvas', size: 64 * MIB }),
          fakeCard(join(dir, 'sdz.img'), { description: 'Old 32 MB card', size: 32 * MIB }),
          SYSTEM_DISK,
        ],
        defaultDialogAnswers: { image: `${raw}.xz` },
      };
    },
    async ({ page, dir }) => {
      await page.getByTestId('home-flash').click();
      // nothing chosen: the button is there, unavailable, with its reason reachable by keyboard
      const start = page.getByTestId('flash-start');
      assert.equal(await start.getAttribute('aria-disabled'), 'true');
      assert.equal(await page.getByTestId('flash-start-reason').textContent(), 'Choose an image first.');
      assert.equal(await start.getAttribute('aria-describedby'), 'flash-start-reason');
      await start.focus();
      assert.equal(await page.locator(':focus').getAttribute('data-testid'), 'flash-start');
      await start.click({ force: true });
      assert.equal(await page.getByTestId('confirm-dialog').count(), 0, 'an unavailable button does nothing');

      await page.getByTestId('flash-image-choose').click();
      const info = page.getByTestId('flash-image-info');
      await info.waitFor();
      assert.match((await info.textContent()) ?? '', /unpacks to 48\.0 MiB/);
      // the .xz's unpacked size marks the small card before anyone confirms
      const small = join(dir, 'sdz.img');
      assert.equal(await page.getByTestId(`drive-option-${small}`).isDisabled(), true);
      assert.match((await page.getByTestId('drive-list').textContent()) ?? '', /Too small/);
      assert.equal(await page.getByTestId('flash-start-reason').textContent(), 'Choose a card to write.');
      await shot(page, 'flash-dropdown-open');

      // several cards from the dropdown, then Done: the picker names them and the button counts them
      await page.getByTestId(`drive-option-${join(dir, 'sdx.img')}`).check();
      await page.getByTestId(`drive-option-${join(dir, 'sdy.img')}`).check();
      await page.getByTestId('flash-cards-done').click();
      assert.equal(await page.getByTestId('drive-list').count(), 0, 'the dropdown closed');
      assert.match(
        (await page.getByTestId('flash-cards').textContent()) ?? '',
        /2 cards.*SanDisk Ultra, Kingston Canvas/,
      );
      assert.equal(await start.textContent(), 'Flash 2 cards…');
      assert.equal(await page.getByTestId('flash-start-reason').count(), 0);
      assert.ok(await start.isVisible(), 'the main button is in sight');
      await shot(page, 'flash-ready');
    },
  );
});

test('hot-plug while confirming: a pulled card leaves the dialog, cannot be confirmed, and is not re-chosen on return', async () => {
  let cards: ReturnType<typeof fakeCard>[] = [];
  await withApp(
    (dir) => {
      const image = join(dir, 'atlas.img');
      writeFileSync(image, Buffer.alloc(MIB, 7));
      cards = [
        fakeCard(join(dir, 'sdx.img'), { description: 'SanDisk Ultra' }),
        fakeCard(join(dir, 'sdy.img'), { description: 'Kingston Canvas' }),
      ];
      return { drives: cards, defaultDialogAnswers: { image } };
    },
    async ({ server, page }) => {
      const [a, b] = cards as [ReturnType<typeof fakeCard>, ReturnType<typeof fakeCard>];
      await chooseFlash(page, [a.device, b.device]);
      await page.getByTestId('flash-start').click();
      await page.getByTestId('confirm-dialog').waitFor();

      server.setDrives([a]);
      const removed = page.getByTestId('confirm-removed');
      await removed.waitFor();
      assert.match(
        (await removed.textContent()) ?? '',
        /Kingston Canvas was removed: it will not be written/,
      );
      assert.doesNotMatch((await page.getByTestId('confirm-targets').textContent()) ?? '', /Kingston/);
      await shot(page, 'flash-confirm-card-removed');

      server.setDrives([]);
      await page.getByTestId('confirm-removed').filter({ hasText: 'SanDisk Ultra was removed' }).waitFor();
      assert.match((await page.getByTestId('confirm-dialog').textContent()) ?? '', /No card left to write/);
      assert.equal(await page.getByTestId('confirm-ok').isDisabled(), true, 'nothing left to confirm');
      await page.getByTestId('confirm-cancel').click();

      // the cards come back: seen, but not chosen behind the person's back
      server.setDrives([a, b]);
      await page.getByTestId(`drive-option-${a.device}`).waitFor();
      assert.equal(await page.getByTestId(`drive-option-${a.device}`).isChecked(), false);
      assert.equal(await page.getByTestId(`drive-option-${b.device}`).isChecked(), false);
      assert.equal(await page.getByTestId('flash-start-reason').textContent(), 'Choose a card to write.');
    },
  );
});

test('library: one row per artifact with where it lives; Flash, Verify and Show in folder named for their row', async () => {
  await withApp(
    (dir) => {
      for (const folder of ['atlas-build', 'vault']) {
        mkdirSync(join(dir, folder));
        writeFileSync(join(dir, folder, 'ods-atlas-golden-v8-1-FIELD.img'), Buffer.alloc(MIB, 5));
      }
      writeFileSync(join(dir, 'atlas-build', 'ods-atlas-golden-v8-2-NEW.img'), Buffer.alloc(MIB, 6));
      return {};
    },
    async ({ server, page, dir }) => {
      await page.getByTestId('nav-library').click();
      // the vault is the settings' folder: point it at this test's
      server.queueDialog(join(dir, 'vault'));
      await page.getByTestId('settings-vault-choose').click();
      const field = 'ods-atlas-golden-v8-1-FIELD.img';
      await page
        .getByTestId(`library-where-${field}`)
        .filter({ hasText: 'Build folder and vault' })
        .waitFor();
      assert.equal(await page.getByTestId(`library-row-${field}`).count(), 1, 'one row for both copies');
      assert.equal(
        await page.getByTestId('library-where-ods-atlas-golden-v8-2-NEW.img').textContent(),
        'Build folder',
      );
      const use = page.getByTestId(`library-use-${field}`);
      assert.equal(await use.getAttribute('aria-label'), `Flash ${field}`);
      for (const name of [`Verify ${field} (the build folder copy)`, `Show ${field} in its folder`]) {
        assert.equal(await page.getByRole('button', { name }).count(), 1, `"${name}" is named for its row`);
      }
      // every button on the page has a name of its own (the Choose… buttons name their field)
      const names = await page
        .getByRole('button')
        .evaluateAll((buttons) =>
          buttons.map((b) => b.getAttribute('aria-label') ?? b.textContent ?? '').filter(Boolean),
        );
      assert.deepEqual(
        names.filter((n, i) => names.indexOf(n) !== i),
        [],
        'no two buttons share a name',
      );
      assert.ok(names.includes('Change Build folder') && names.includes('Change Vault (permanent archive)'));
      // nothing is uppercased: file names keep their case
      const upper = await page.locator('body *').evaluateAll((all) => {
        // runs in the page (DOM types are not in this Node project's lib)
        const view = globalThis as unknown as { getComputedStyle(e: unknown): { textTransform: string } };
        return all.filter((el) => view.getComputedStyle(el).textTransform === 'uppercase').length;
      });
      assert.equal(upper, 0, 'no text-transform: uppercase');
      // Sync waits for a preview, and says so where a keyboard reaches it
      const sync = page.getByTestId('vault-sync');
      assert.equal(await sync.getAttribute('aria-disabled'), 'true');
      assert.equal(await sync.getAttribute('aria-describedby'), 'vault-sync-reason');
      assert.equal(
        await page.getByTestId('vault-sync-reason').textContent(),
        'Preview first: Sync copies what the preview lists.',
      );
      await sync.focus();
      assert.equal(await page.locator(':focus').getAttribute('data-testid'), 'vault-sync');
      await shot(page, 'library-rows');

      await page.getByTestId(`library-show-${field}`).click();
      for (let i = 0; i < 100 && server.shownItems.length === 0; i++) await page.waitForTimeout(20);
      assert.deepEqual(
        server.shownItems,
        [join(dir, 'atlas-build', field)],
        'the build folder copy is shown',
      );

      await use.click();
      await page.getByTestId('page-flash').waitFor();
      assert.equal(
        await page.getByTestId('flash-image-value').getAttribute('title'),
        join(dir, 'atlas-build', field),
      );
    },
  );
});

test('library: a clone row leads to Restore with that clone chosen', async () => {
  const name = 'golden-clone-v8-1-0-KIOSK';
  await withApp(
    (dir) => {
      const clone = join(dir, 'atlas-build', name);
      mkdirSync(clone, { recursive: true });
      writeFileSync(
        join(clone, 'atlas-manifest.json'),
        '{"format":"atlas-clone","phase":1,"tag":"v8-1-0-KIOSK","files":[]}',
      );
      writeFileSync(
        join(clone, 'partition-table.dump'),
        'label: dos\nunit: sectors\n\n/dev/sdc1 : start=8192, size=16384, type=83\n',
      );
      return {};
    },
    async ({ page, dir }) => {
      const folder = join(dir, 'atlas-build', name);
      await page.getByTestId('nav-library').click();
      const use = page.getByTestId(`library-use-${name}`);
      await use.waitFor();
      assert.equal(await use.textContent(), 'Restore');
      assert.equal(await use.getAttribute('aria-label'), `Restore ${name}`);
      await use.click();
      await page.getByTestId('page-restore').waitFor();
      assert.equal(await page.getByTestId('restore-folder-value').getAttribute('title'), folder);
      // the clone is the one ticked in Restore's list of the Library's clones, with the card it needs
      const option = page.locator(`[data-testid="restore-clones-option"][data-path="${folder}"]`);
      await option.waitFor();
      assert.equal(await option.isChecked(), true);
      assert.match(
        (await page.getByTestId('restore-folder-info').textContent()) ?? '',
        /Needs a card of at least/,
      );
      await shot(page, 'restore-from-library');
    },
  );
});

test('insert: each input checked as it is picked, every problem at once, on its field', async () => {
  await withApp(
    (dir) => {
      writeFileSync(join(dir, 'notes.img'), Buffer.alloc(MIB, 3));
      writeFileSync(join(dir, 'atlas_firstboot.sh'), 'echo no shebang\n');
      writeFileSync(join(dir, 'atlas-firstboot.service'), '[Service]\nExecStart=/bin/true\n');
      writeFileSync(join(dir, 'atlas_secrets.conf'), 'WIFI_PSK=hunter2\n');
      chmodSync(join(dir, 'atlas_secrets.conf'), 0o644);
      mkdirSync(join(dir, 'atlas-build'));
      writeFileSync(join(dir, 'atlas-build', 'ods-atlas-golden-v8-1-FIELD.img'), Buffer.alloc(MIB));
      return {};
    },
    async ({ server, page, dir }) => {
      await page.getByTestId('nav-insert').click();
      const picks = [
        ['insert-base', 'notes.img'],
        ['insert-firstboot', 'atlas_firstboot.sh'],
        ['insert-service', 'atlas-firstboot.service'],
        ['insert-secrets', 'atlas_secrets.conf'],
      ] as const;
      for (const [id, name] of picks) {
        server.queueDialog(join(dir, name));
        await page.getByTestId(`${id}-choose`).click();
        await page.getByTestId(`${id}-problem`).waitFor();
      }
      await page.getByTestId('insert-version').fill('8');
      await page.getByTestId('insert-patch').fill('1');
      await page.getByTestId('insert-tag').fill('FIELD');
      await page.getByTestId('insert-output-problem').waitFor();

      const problem = async (id: string) => ({
        code: await page.getByTestId(`${id}-problem`).getAttribute('data-code'),
        severity: await page.getByTestId(`${id}-problem`).getAttribute('data-severity'),
        text: (await page.getByTestId(`${id}-problem`).textContent()) ?? '',
        invalid: await page.getByTestId(id).getAttribute('aria-invalid'),
        describedBy: await page.getByTestId(id).getAttribute('aria-describedby'),
      });
      const base = await problem('insert-base');
      assert.equal(base.code, 'NOT_ARMBIAN_BASE');
      assert.equal(base.invalid, 'true');
      assert.equal(base.describedBy, 'insert-base-problem');
      assert.match((await problem('insert-firstboot')).text, /has no shebang/);
      assert.match(
        (await problem('insert-service')).text,
        /does not run the injected script: ExecStart= runs \/bin\/true/,
      );
      // the secrets warning the CLI prints reaches the app: a warning, not a refusal
      const secrets = await problem('insert-secrets');
      assert.equal(secrets.severity, 'warning');
      assert.equal(secrets.invalid, null);
      assert.match(secrets.text, /readable by its group and others \(mode 0644\)/);
      assert.ok(!(await page.textContent('body'))?.includes('hunter2'), 'never the content');
      // the clash with an existing image, with the choice to replace it, in words for the app
      assert.match(
        (await page.getByTestId('insert-output-problem').textContent()) ?? '',
        /ods-atlas-golden-v8-1-FIELD\.img already exists/,
      );
      assert.equal(await page.getByTestId('insert-tag').getAttribute('aria-invalid'), 'true');
      assert.doesNotMatch((await page.textContent('body')) ?? '', /--force|--[a-z]/);
      assert.equal(
        await page.getByTestId('insert-start-reason').textContent(),
        'Fix the problems marked above.',
      );
      await shot(page, 'insert-checked-as-picked');

      await page.getByTestId('insert-replace').check();
      await page.getByTestId('insert-output-problem').waitFor({ state: 'detached' });
      assert.equal(await page.getByTestId('insert-tag').getAttribute('aria-invalid'), null);

      // a fixed script clears its problem when picked again; the others stay
      writeFileSync(join(dir, 'atlas_firstboot.sh'), '#!/bin/bash\necho ok\n');
      server.queueDialog(join(dir, 'atlas_firstboot.sh'));
      await page.getByTestId('insert-firstboot-choose').click();
      await page.getByTestId('insert-firstboot-problem').waitFor({ state: 'detached' });
      assert.equal(await page.getByTestId('insert-firstboot').getAttribute('aria-invalid'), null);
      assert.equal(await page.getByTestId('insert-service').getAttribute('aria-invalid'), 'true');
    },
  );
});
