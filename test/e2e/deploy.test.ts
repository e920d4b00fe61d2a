/**
 * Deploying a clone to several cards in the app (issues 13 and 16), in Chromium over the real handlers: the clone
 * chosen from the Library's clones, four cards in the order chosen, deploy as the default with its sentence, the
 * hostname preview (and a bad pattern marked invalid), Check these cards first (one is fake), a bar per card,
 * each card's result, and the Library's deployments. The device jobs are scripted stand-ins (the engine's own
 * tests write real cards); every state is saved as a picture in test-results/screens/.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { fakeCard, SYSTEM_DISK } from './serve';
import { openSession, SHOTS, type AppSession } from './browser';
import type { DeviceJobRequests, DeviceJobRunners } from '../../main/app/handlers';
import { deviceJobRunner } from '../../main/app/handlers';
import type { CardProgress, CheckCardResult, RestoreResult } from '../../main/contract';
import { scratchDir } from '../support/sh';

const MIB = 1024 * 1024;
const shot = (page: Page, name: string) =>
  page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });

test('deploy to four cards: chosen in order, hostnames previewed, cards checked, a bar and a result per card', async () => {
  const { dir, cleanup } = scratchDir('atlas-e2e-deploy-');
  let session: AppSession | null = null;
  const restores: Array<DeviceJobRequests['restore']> = [];
  let release: () => void = () => {};
  const released = new Promise<void>((resolve) => (release = resolve));
  const unused = async (): Promise<never> => {
    throw new Error('not used in this test');
  };
  try {
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
    // an earlier batch's record: a deploy numbers on from the highest name its pattern gave
    const earlier = (hostname: string, serial: string, ok: boolean): string =>
      `${JSON.stringify({
        time: '2026-11-20T10:00:00.000Z',
        clone: 'golden-clone-KIOSK',
        cloneTag: 'KIOSK',
        manifestSha256: null,
        intent: 'deploy',
        card: { device: '/dev/sdq', model: 'Old card', serial, size: 64 * MIB },
        hostname,
        verified: ok,
        ok,
        error: ok ? null : 'VERIFY_MISMATCH',
      })}\n`;
    writeFileSync(
      join(build, 'deployments.jsonl'),
      earlier('atlas-009', 'OLD-9', true) + earlier('atlas-011', 'OLD-11', false),
    );
    const names = ['Kingston Canvas', 'NoName Bulk', 'SanDisk Ultra', 'Samsung EVO'];
    const cards = names.map((description, i) => {
      const path = join(dir, `card-${i}.img`);
      writeFileSync(path, Buffer.alloc(0));
      truncateSync(path, 64 * MIB);
      return fakeCard(path, { description });
    });
    const [kingston, noname, sandisk, samsung] = cards as [
      (typeof cards)[0],
      (typeof cards)[0],
      (typeof cards)[0],
      (typeof cards)[0],
    ];

    const runners: DeviceJobRunners = {
      flash: unused,
      clone: unused,
      'check-card': async (r): Promise<CheckCardResult> => ({
        device: r.target.device,
        claimedBytes: r.target.size ?? 0,
        verdict: r.target.device === noname.device ? 'fake' : 'genuine',
        realBytesAtMost: r.target.device === noname.device ? 16e6 : null,
        realBytesAtLeast: r.target.device === noname.device ? 8e6 : null,
        wrapsAt: r.target.device === noname.device ? 16e6 : null,
        probes: 37,
        restored: true,
        seconds: 1.5,
      }),
      restore: async (r, control): Promise<RestoreResult> => {
        restores.push(r);
        // each card's bar: the fake card failed reading back, the others are half written
        const bars: CardProgress[] = r.targets.map((d) =>
          d.device === noname.device
            ? {
                device: d.device,
                state: 'failed',
                bytesDone: 0,
                bytesTotal: null,
                error: {
                  code: 'VERIFY_MISMATCH',
                  message: `${d.device} differs from the clone at byte 16000000.`,
                },
              }
            : { device: d.device, state: 'writing', bytesDone: 4 * MIB, bytesTotal: 8 * MIB },
        );
        control.onProgress?.({
          stage: 'restoring',
          bytesDone: 12 * MIB,
          bytesTotal: 32 * MIB,
          rate: 20 * MIB,
          etaSeconds: 1,
          cards: bars,
        });
        await released;
        return {
          folder: r.folder,
          intent: r.intent,
          cloneTag: 'KIOSK',
          manifestSha256: 'ab'.repeat(32),
          ok: false,
          writeSeconds: 2,
          seconds: 3,
          targets: r.targets.map((d, i) =>
            d.device === noname.device
              ? {
                  device: d.device,
                  ok: false,
                  verified: false,
                  grown: false,
                  hostname: r.hostnames?.[i] ?? null,
                  identityChanges: [],
                  bytesWritten: 8 * MIB,
                  ejected: false,
                  error: {
                    code: 'VERIFY_MISMATCH',
                    message: `${d.device} differs from the clone at byte 16000000.`,
                  },
                }
              : {
                  device: d.device,
                  ok: true,
                  verified: true,
                  grown: true,
                  hostname: r.hostnames?.[i] ?? null,
                  identityChanges: ['emptied /etc/machine-id', `set the hostname to ${r.hostnames?.[i]}`],
                  bytesWritten: 8 * MIB,
                  ejected: true,
                },
          ),
        };
      },
    };
    session = await openSession(dir, {
      drives: [...cards, SYSTEM_DISK],
      runDeviceJob: deviceJobRunner(runners),
      fileJobs: { verify: async (r) => ({ path: r.path, checked: 3 }) },
    });
    const { page } = session.app;

    // the clone from the Library's clones, verified
    await page.getByTestId('nav-restore').click();
    const option = page.locator(`[data-testid="restore-clones-option"][data-path="${clone}"]`);
    await option.waitFor();
    await option.check();
    await page.getByTestId('restore-folder-info').waitFor();
    await shot(page, 'restore-clone-chooser');
    await page.getByTestId('restore-verify').click();
    await page.getByTestId('restore-verify-result').waitFor();

    // one card: a roll-back by default, no hostname
    await page.getByTestId(`drive-option-${sandisk.device}`).check();
    assert.equal(await page.getByTestId('restore-intent-exact').isChecked(), true);
    assert.equal(await page.getByTestId('restore-hostname').count(), 0);
    assert.match(
      (await page.getByTestId('restore-intent').textContent()) ?? '',
      /Deploy to new devices.*device of its own.*Roll back this device.*exact copy/,
    );
    // several: deploy by default, each card's hostname in the order chosen
    for (const c of [kingston, noname, samsung]) await page.getByTestId(`drive-option-${c.device}`).check();
    assert.equal(await page.getByTestId('restore-intent-deploy').isChecked(), true);
    const order = [sandisk, kingston, noname, samsung];
    const preview = async (): Promise<string[]> =>
      Promise.all(
        order.map(
          async (c) =>
            (await page.getByTestId(`restore-hostname-${c.device}`).locator('code').textContent()) ?? '',
        ),
      );
    // on from atlas-009 (atlas-011's card failed: that name was never a kiosk's)
    assert.deepEqual(await preview(), ['atlas-010', 'atlas-011', 'atlas-012', 'atlas-013']);
    assert.equal(await page.getByTestId('restore-start').textContent(), 'Deploy to 4 cards…');
    await shot(page, 'restore-deploy-preview');

    // a bad pattern is marked invalid, says why, and holds the main button with the same reason
    const field = page.getByTestId('restore-hostname');
    await field.fill('kiosk_{n}');
    assert.equal(await field.getAttribute('aria-invalid'), 'true');
    assert.match((await page.getByTestId('restore-hostname-help').textContent()) ?? '', /is not a hostname/);
    assert.match((await page.getByTestId('restore-start-reason').textContent()) ?? '', /is not a hostname/);
    await shot(page, 'restore-deploy-bad-pattern');
    await field.fill('kiosk');
    assert.match(
      (await page.getByTestId('restore-hostname-help').textContent()) ?? '',
      /Cards 1 and 2 would both be called kiosk/,
    );
    await field.fill('kiosk-{n:02}');
    assert.equal(await field.getAttribute('aria-invalid'), 'false');
    assert.deepEqual(await preview(), ['kiosk-01', 'kiosk-02', 'kiosk-03', 'kiosk-04']);
    assert.equal(await page.getByTestId('restore-start-reason').count(), 0);

    // the person may still choose an exact copy for several cards, and come back
    await page.getByTestId('restore-intent-exact').check();
    assert.equal(await page.getByTestId('restore-hostname').count(), 0);
    assert.equal(await page.getByTestId('restore-start').textContent(), 'Restore 4 cards…');
    await page.getByTestId('restore-intent-deploy').check();

    // Check these cards first: the bulk card is fake, the others genuine, every byte put back
    await page.getByTestId('restore-check-cards').click();
    const fakeVerdict = page.getByTestId(`card-check-${noname.device}-verdict`);
    await fakeVerdict.getByText(/put back/).waitFor();
    assert.match(
      (await fakeVerdict.textContent()) ?? '',
      /Fake: it claims 67 MB but holds at most 16 MB, and writes past that land back at its start\. Do not use it/,
    );
    for (const c of [sandisk, kingston, samsung]) {
      const verdict = page.getByTestId(`card-check-${c.device}-verdict`);
      await verdict.getByText(/put back/).waitFor();
      assert.match(
        (await verdict.textContent()) ?? '',
        /Genuine: holds the 67 MB it claims \(37 places checked/,
      );
    }
    assert.equal(
      await page.getByTestId('restore-fake-warning').textContent(),
      'NoName Bulk is a fake card: untick it before writing.',
    );
    await shot(page, 'restore-deploy-card-check');

    // confirm: every card with its hostname, then a bar per card
    await page.getByTestId('restore-start').click();
    const dialog = (await page.getByTestId('confirm-targets').textContent()) ?? '';
    assert.match(
      dialog,
      /SanDisk Ultra.*kiosk-01.*Kingston Canvas.*kiosk-02.*NoName Bulk.*kiosk-03.*Samsung EVO.*kiosk-04/,
    );
    await shot(page, 'restore-deploy-confirm');
    await page.getByTestId('confirm-ok').click();
    await page.getByTestId(`card-progress-${noname.device}`).waitFor();
    assert.equal(
      await page.getByTestId(`card-progress-${noname.device}`).getAttribute('data-state'),
      'failed',
    );
    assert.equal(
      await page.getByTestId(`card-progress-${samsung.device}`).getAttribute('data-state'),
      'writing',
    );
    assert.equal(await page.locator('[data-testid^="card-progress-"][data-state]').count(), 4);
    await shot(page, 'restore-deploy-progress');
    release();

    // each card's result: three verified with their hostname and identity changes, the fake one failed alone
    await page.getByTestId('restore-done').waitFor();
    assert.match(
      (await page.getByTestId('restore-done').locator('h2').textContent()) ?? '',
      /3 of 4 cards restored/,
    );
    assert.equal(
      await page.getByTestId(`restore-card-${kingston.device}-hostname`).textContent(),
      'kiosk-02',
    );
    assert.match(
      (await page.getByTestId(`restore-card-${kingston.device}-changes`).textContent()) ?? '',
      /emptied \/etc\/machine-id/,
    );
    assert.match(
      (await page.getByTestId(`restore-results-${noname.device}`).textContent()) ?? '',
      /Failed: .* differs from the clone at byte 16000000/,
    );
    await page.getByTestId(`restore-results-${samsung.device}-safe`).waitFor();
    await shot(page, 'restore-deploy-done');

    const job = restores[0]!;
    assert.equal(restores.length, 1, 'one job for the four cards');
    assert.equal(job.intent, 'deploy');
    assert.deepEqual(
      job.targets.map((d) => d.device),
      order.map((c) => c.device),
    );
    assert.deepEqual(job.hostnames, ['kiosk-01', 'kiosk-02', 'kiosk-03', 'kiosk-04']);

    // the Library lists the four cards deployed
    await page.getByTestId('nav-library').click();
    const rows = page.getByTestId('deployment-entry');
    await rows.first().waitFor();
    assert.equal(await rows.count(), 6, 'the four cards of this deploy and the two of the earlier one');
    assert.match(
      (await page.getByTestId('deployments').textContent()) ?? '',
      /KIOSK.*kiosk-0\d.*verified.*failed/s,
    );
    // a failed card says where and why, not only that it failed
    assert.match(
      (await page.getByTestId('deployment-reason').first().textContent()) ?? '',
      /differs from the clone at byte 16000000/,
    );
    await page.getByTestId('deployments').screenshot({ path: join(SHOTS, 'library-deployments.png') });
    assert.deepEqual(session.app.consoleErrors, [], 'the page logged no errors (CSP, React)');
  } finally {
    release();
    await session?.close();
    cleanup();
  }
});
