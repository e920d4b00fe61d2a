/**
 * The Library's tables (one DataTable: the images and clones, a remote build folder's contents, the job log, the
 * deployments) as a screen reader meets them, in Chromium over the real handlers: each table named, its column
 * headers and row headers, the text said when there is nothing to list, and every row action named for its row,
 * so no two buttons on the page share a name. The remote build folder is this machine: a stand-in `ssh` on the
 * PATH runs the listing script here, in the box's home (the real ssh is tested in integration/remote-pull).
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Locator, Page } from 'playwright-core';
import type { DeploymentRecord, JobLogEntry } from '../../main/contract';
import { appendJobLog } from '../../main/engine/library/job-log';
import { appendDeployments } from '../../main/engine/library/deployments';
import { openSession, SHOTS, type AppSession } from './browser';
import type { TestServer } from './serve';
import { scratchDir } from '../support/sh';

const MIB = 1024 * 1024;
const FIELD = 'ods-atlas-golden-v8-1-FIELD.img';
const NEW = 'ods-atlas-golden-v8-2-NEW.img';
const REMOTE = 'ods-atlas-golden-v9-0-REMOTE.img';
const BOXES = ['ssh://buildbox/~/atlas-build', 'ssh://otherbox/~/atlas-build'];

async function withLibrary(
  setup: (dir: string) => Promise<void>,
  body: (ctx: { server: TestServer; page: Page; dir: string }) => Promise<void>,
): Promise<void> {
  const { dir, cleanup } = scratchDir('atlas-e2e-tables-');
  let session: AppSession | null = null;
  try {
    await setup(dir);
    session = await openSession(dir);
    const page = session.app.page;
    await page.getByTestId('nav-library').click();
    await page.getByTestId('page-library').waitFor();
    await body({ server: session.server, page, dir });
    assert.deepEqual(session.app.consoleErrors, [], 'the page logged no errors (CSP, React)');
  } finally {
    await session?.close();
    cleanup();
  }
}

const headers = (table: Locator): Promise<string[]> => table.getByRole('columnheader').allTextContents();

/** Every button's name as a screen reader gets it here (its aria-label, else its text). */
async function buttonNames(page: Page): Promise<string[]> {
  return page
    .getByRole('button')
    .evaluateAll((buttons) =>
      buttons.map((b) => b.getAttribute('aria-label') ?? b.textContent ?? '').filter(Boolean),
    );
}

test('an empty library says so in each place, with no empty tables', async () => {
  await withLibrary(
    async (dir) => mkdirSync(join(dir, 'atlas-build')),
    async ({ page }) => {
      const said = [
        'Nothing here yet. Insert builds golden images; Clone saves clone folders.',
        'No flash, clone, restore, insert or vault sync has run yet.',
        'No clone has been restored onto a card from this build folder yet.',
      ];
      for (const text of said) await page.getByText(text, { exact: true }).waitFor();
      assert.deepEqual(await page.locator('.empty').allTextContents(), said);
      assert.equal(await page.getByRole('table').count(), 0);
    },
  );
});

test('the tables are named, with column and row headers, and each row action is named for its row', async () => {
  const path = process.env.PATH;
  try {
    await withLibrary(
      async (dir) => {
        for (const folder of ['atlas-build', 'vault', 'box/atlas-build', 'bin']) {
          mkdirSync(join(dir, folder), { recursive: true });
        }
        writeFileSync(join(dir, 'atlas-build', FIELD), Buffer.alloc(MIB, 5));
        writeFileSync(join(dir, 'vault', FIELD), Buffer.alloc(MIB, 5));
        writeFileSync(join(dir, 'atlas-build', NEW), Buffer.alloc(MIB, 6));
        writeFileSync(join(dir, 'box', 'atlas-build', REMOTE), Buffer.alloc(MIB, 7));
        // `ssh [options] -- host command`: the command runs here, in the build box's home
        const ssh = join(dir, 'bin', 'ssh');
        writeFileSync(ssh, `#!/bin/sh\nfor last; do :; done\nHOME='${dir}/box' exec sh -c "$last"\n`);
        chmodSync(ssh, 0o755);
        process.env.PATH = `${join(dir, 'bin')}:${path}`;
        const card = { device: '/dev/sdx', model: 'SanDisk Ultra', serial: 'A1B2', size: 31_914_983_424 };
        const flashed: JobLogEntry = {
          time: '2026-11-20T10:00:00.000Z',
          job: 'flash',
          source: join(dir, 'atlas-build', FIELD),
          sha256: 'ab'.repeat(32),
          cards: [{ ...card, ok: true }],
          result: 'succeeded',
          error: null,
        };
        await appendJobLog(join(dir, 'config'), flashed);
        await appendJobLog(join(dir, 'config'), {
          ...flashed,
          time: '2026-11-21T10:00:00.000Z',
          result: 'failed',
        });
        const deployed: DeploymentRecord = {
          time: '2026-11-22T10:00:00.000Z',
          clone: 'golden-clone-v8-1-0-KIOSK',
          cloneTag: 'v8-1-0-KIOSK',
          manifestSha256: 'cd'.repeat(32),
          intent: 'deploy',
          card,
          hostname: 'kiosk-01',
          verified: true,
          ok: true,
          error: null,
        };
        await appendDeployments(join(dir, 'atlas-build'), [deployed, { ...deployed, hostname: 'kiosk-02' }]);
      },
      async ({ server, page, dir }) => {
        server.queueDialog(join(dir, 'vault'));
        await page.getByTestId('settings-vault-choose').click();
        await page
          .getByTestId(`library-where-${FIELD}`)
          .filter({ hasText: 'Build folder and vault' })
          .waitFor();

        const library = page.getByRole('table', { name: 'Images and clones', exact: true });
        assert.deepEqual(await headers(library), [
          'Name',
          'Phase',
          'Tag',
          'Date',
          'Size',
          'Where',
          'Actions',
        ]);
        assert.deepEqual((await library.getByRole('rowheader').allTextContents()).sort(), [
          `${FIELD} (no manifest)`,
          `${NEW} (no manifest)`,
        ]);
        for (const name of [`Flash ${FIELD}`, `Verify ${FIELD} (the build folder copy)`, `Verify ${NEW}`]) {
          assert.equal(await library.getByRole('button', { name, exact: true }).count(), 1, name);
        }

        const log = page.getByRole('table', { name: 'Job log', exact: true });
        assert.deepEqual(await headers(log), ['When', 'Job', 'From', 'Cards', 'Result']);
        assert.equal(await log.getByRole('rowheader').count(), 2);
        const latest = (await page.getByTestId('job-log-entry').first().textContent()) ?? '';
        assert.match(
          latest,
          new RegExp(`^.*Flash${FIELD} sha256 abababababab….*SanDisk Ultra 31\\.9 GB S/N A1B2failed$`),
        );

        const deployments = page.getByRole('table', { name: 'Deployments', exact: true });
        assert.deepEqual(await headers(deployments), ['When', 'Clone', 'Card', 'Hostname', 'Result']);
        assert.equal(await page.getByTestId('deployment-entry').count(), 2);
        assert.match(
          (await page.getByTestId('deployment-entry').first().textContent()) ?? '',
          /v8-1-0-KIOSK.*manifest sha256 cdcdcdcdcdcd….*SanDisk Ultra 31\.9 GB S\/N A1B2kiosk-02verified/,
        );

        // two build boxes holding the same artifact: each Pull says which box it pulls from
        for (const box of BOXES) {
          await page.getByTestId('remote-folder-input').fill(box);
          await page.getByTestId('remote-folder-add').click();
          await page.getByRole('button', { name: `Show contents of ${box}`, exact: true }).click();
          const remote = page.getByRole('table', {
            name: `Golden images and clone folders in ${box}`,
            exact: true,
          });
          await remote.waitFor();
          assert.deepEqual(await headers(remote), [
            'Name',
            'Phase',
            'Tag',
            'Date',
            'Size',
            'Vault',
            'Actions',
          ]);
          assert.deepEqual(await remote.getByRole('rowheader').allTextContents(), [
            `${REMOTE} (no manifest)`,
          ]);
          const pull = remote.getByRole('button', { name: `Pull ${REMOTE} from ${box}`, exact: true });
          assert.equal(await pull.textContent(), 'Pull');
        }

        const names = await buttonNames(page);
        assert.deepEqual(
          names.filter((n, i) => names.indexOf(n) !== i),
          [],
          'no two buttons share a name',
        );
        await page.screenshot({ path: join(SHOTS, 'library-tables.png'), fullPage: true });
      },
    );
  } finally {
    process.env.PATH = path;
  }
});
