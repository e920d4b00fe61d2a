/**
 * Accessibility on every page (issue 12, point 8), in Chromium over the real handlers: on each page, with an
 * image, cards and a clone to show, no two buttons share an accessible name, no text is uppercased by style,
 * and every field marked invalid says why. A picture of each page goes to test-results/screens/.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { fakeCard, SYSTEM_DISK } from './serve';
import { openSession, SHOTS } from './browser';
import { scratchDir } from '../support/sh';

const MIB = 1024 * 1024;
const PAGES = ['home', 'flash', 'insert', 'clone', 'restore', 'library'] as const;

/** The accessible names of the page's buttons (aria-label, else the text), in page order. */
async function buttonNames(page: Page): Promise<string[]> {
  return page
    .getByRole('button')
    .evaluateAll((buttons) =>
      buttons.map((b) => (b.getAttribute('aria-label') ?? b.textContent ?? '').trim()).filter(Boolean),
    );
}

async function uppercased(page: Page): Promise<number> {
  return page.locator('body *').evaluateAll((all) => {
    // runs in the page (DOM types are not in this Node project's lib)
    const view = globalThis as unknown as { getComputedStyle(e: unknown): { textTransform: string } };
    return all.filter((el) => view.getComputedStyle(el).textTransform === 'uppercase').length;
  });
}

/** Fields marked aria-invalid that do not point at a reason (aria-describedby to an element with text). */
async function invalidWithoutReason(page: Page): Promise<string[]> {
  return page.locator('[aria-invalid="true"]').evaluateAll((fields) => {
    const doc = globalThis as unknown as {
      document: { getElementById(id: string): { textContent: string } | null };
    };
    return fields
      .filter((f) => {
        const ids = (f.getAttribute('aria-describedby') ?? '').split(/\s+/).filter((id: string) => id !== '');
        return !ids.some((id: string) => (doc.document.getElementById(id)?.textContent ?? '').trim() !== '');
      })
      .map((f) => f.getAttribute('data-testid') ?? f.tagName);
  });
}

test('every page: buttons named uniquely, nothing uppercased, an invalid field says why', async () => {
  const { dir, cleanup } = scratchDir('atlas-e2e-pages-');
  const build = join(dir, 'atlas-build');
  const clone = join(build, 'golden-clone-KIOSK');
  mkdirSync(clone, { recursive: true });
  writeFileSync(
    join(clone, 'atlas-manifest.json'),
    '{"format":"atlas-clone","phase":1,"tag":"KIOSK","files":[]}',
  );
  writeFileSync(
    join(clone, 'partition-table.dump'),
    'label: dos\nunit: sectors\n\n/dev/sdc1 : start=8192, size=16384, type=83\n',
  );
  const image = join(build, 'ods-atlas-golden-v8-1-FIELD.img');
  writeFileSync(image, Buffer.alloc(MIB, 1));
  // an Insert input that is refused, so the page has an invalid field
  writeFileSync(join(dir, 'atlas_firstboot.sh'), 'echo no shebang\n');
  const cards = ['sdx.img', 'sdy.img'].map((name, i) => {
    const path = join(dir, name);
    writeFileSync(path, '');
    return fakeCard(path, { description: i === 0 ? 'SanDisk Ultra' : 'Kingston Canvas', size: 64 * MIB });
  });
  const s = await openSession(dir, {
    drives: [...cards, SYSTEM_DISK],
    defaultDialogAnswers: { image, firstboot: join(dir, 'atlas_firstboot.sh') },
  });
  const { page } = s.app;
  try {
    for (const name of PAGES) {
      await page.getByTestId(`nav-${name}`).click();
      await page.getByTestId(`page-${name}`).waitFor();
      // each page in the state a person meets it with something chosen
      if (name === 'flash') {
        await page.getByTestId('flash-image-choose').click();
        await page.getByTestId('flash-image-info').waitFor();
        await page.getByTestId(`drive-option-${cards[0]!.device}`).check();
      }
      if (name === 'insert') {
        await page.getByTestId('insert-firstboot-choose').click();
        await page.getByTestId('insert-firstboot-problem').waitFor();
      }
      if (name === 'restore') {
        const option = page.locator(`[data-testid="restore-clones-option"][data-path="${clone}"]`);
        await option.check();
        await page.getByTestId('restore-folder-info').waitFor();
      }
      if (name === 'library') await page.getByTestId('library-row-golden-clone-KIOSK').waitFor();
      const names = await buttonNames(page);
      assert.deepEqual(
        names.filter((n, i) => names.indexOf(n) !== i),
        [],
        `${name}: no two buttons share a name`,
      );
      assert.equal(await uppercased(page), 0, `${name}: no text-transform: uppercase`);
      assert.deepEqual(await invalidWithoutReason(page), [], `${name}: every invalid field says why`);
      await page.screenshot({ path: join(SHOTS, `page-${name}.png`), fullPage: true });
    }
    assert.deepEqual(s.app.consoleErrors, []);
  } finally {
    await s.close();
    cleanup();
  }
});
