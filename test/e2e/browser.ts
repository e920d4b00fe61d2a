/** Chromium for the renderer tests: the system binary, the flags known to work here, a fresh profile each time. */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startTestServer, type TestServer, type TestServerOptions } from './serve';

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

export interface OpenedApp {
  page: Page;
  context: BrowserContext;
  /** messages the page logged as errors (CSP violations, React errors) */
  consoleErrors: string[];
  close(): Promise<void>;
}

export async function openApp(server: TestServer): Promise<OpenedApp> {
  const profile = mkdtempSync(join(tmpdir(), 'atlas-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    args: CHROMIUM_ARGS,
    headless: true,
    viewport: { width: 1180, height: 820 },
  });
  await context.addInitScript(server.shim);
  const page = context.pages()[0] ?? (await context.newPage());
  const consoleErrors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(message.text());
  });
  page.on('pageerror', (error) => consoleErrors.push(String(error)));
  await page.goto(server.url);
  await page.getByTestId('page-home').waitFor();
  return {
    page,
    context,
    consoleErrors,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Every page and state the e2e tests visit, as pictures for a person to review (git-ignored). */
export const SHOTS = join(__dirname, '..', '..', '..', 'test-results', 'screens');

const rendererDir = join(__dirname, '..', '..', 'renderer');

export interface AppSession {
  server: TestServer;
  app: OpenedApp;
  /** closes the browser, then the server */
  close(): Promise<void>;
}

/**
 * The test server over the built renderer, with its settings in `dir`/config and `dir` as the home (so
 * ~/atlas-build is `dir`/atlas-build), and Chromium on its page. Creates the screenshot folder.
 */
export async function openSession(
  dir: string,
  options: Partial<TestServerOptions> = {},
): Promise<AppSession> {
  mkdirSync(SHOTS, { recursive: true });
  const server = await startTestServer({
    rendererDir,
    configDir: join(dir, 'config'),
    homeDir: dir,
    ...options,
  });
  try {
    const app = await openApp(server);
    return {
      server,
      app,
      async close() {
        await app.close();
        await server.close();
      },
    };
  } catch (error) {
    await server.close();
    throw error;
  }
}

/**
 * Flash's first steps as a person takes them: the Flash page, the image the session's dialog answers with
 * (defaultDialogAnswers.image), its facts shown, then the cards ticked in this order.
 */
export async function chooseFlash(page: Page, devices: readonly string[]): Promise<void> {
  await page.getByTestId('nav-flash').click();
  await page.getByTestId('flash-image-choose').click();
  await page.getByTestId('flash-image-info').waitFor();
  for (const device of devices) await page.getByTestId(`drive-option-${device}`).check();
}
