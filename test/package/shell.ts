/**
 * The packed Electron shell (main/index.ts, main/electron/, the preload) run under the recording stand-in for
 * `electron` (fake-electron.ts): the app starts, the window is locked down, app:// serves the packed renderer
 * and nothing else, every request channel of the contract is registered behind the sender check, the session
 * refuses permissions and outside requests, and quitting cancels a running job before the app exits.
 */
import { REQUEST_CHANNELS } from '../../main/contract/channel-list';
import test from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { AtlasApi } from '../../main/contract';
import type * as RendererPolicy from '../../main/shared/renderer-policy';
import {
  FakeWebContents,
  installFakeElectron,
  preventable,
  trustedEvent,
  type ElectronRecord,
} from './fake-electron';
import type { PackedApp } from './packed';
import { ROOT } from './packed';
import { shell } from '../support/sh';

const CHANNELS = REQUEST_CHANNELS;

type Reply = { ok: true; value: unknown } | { ok: false; error: { code: string; message: string } };

/** Waits for a condition the app reaches asynchronously (no time is asserted; the deadline only stops a hang). */
async function until(what: string, done: () => boolean): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export function electronShellTests(packed: () => PackedApp, scratch: () => string): void {
  test('the packed Electron shell, under a recording stand-in for electron', async (t) => {
    const app = packed();
    const out = join(app.extracted, 'out');
    const load = createRequire(__filename);
    const { record, uninstall } = installFakeElectron(join(scratch(), 'user-data'));
    try {
      load(join(out, 'main', 'index.js'));
      await t.test('before ready: the sandbox for every renderer and app:// as a secure scheme', () => {
        assert.equal(record.sandboxEnabled, true);
        assert.deepEqual(record.privilegedSchemes, [
          {
            scheme: 'app',
            privileges: { standard: true, secure: true, supportFetchAPI: false, corsEnabled: false },
          },
        ]);
        assert.equal(record.windows.length, 0, 'no window before the app is ready');
      });

      record.ready();
      await until('the window', () => record.windows.length === 1);
      const window = record.windows[0]!;
      const call = (channel: string, request: unknown, event = trustedEvent(window)): Promise<Reply> =>
        record.ipcHandlers.get(channel)!(event, request) as Promise<Reply>;

      await t.test('the window: isolated, sandboxed, no Node, no webviews, loading app://atlas/', () => {
        const prefs = window.options.webPreferences as Record<string, unknown>;
        assert.deepEqual(
          {
            contextIsolation: prefs.contextIsolation,
            sandbox: prefs.sandbox,
            nodeIntegration: prefs.nodeIntegration,
            nodeIntegrationInWorker: prefs.nodeIntegrationInWorker,
            webviewTag: prefs.webviewTag,
            webSecurity: prefs.webSecurity,
            allowRunningInsecureContent: prefs.allowRunningInsecureContent,
          },
          {
            contextIsolation: true,
            sandbox: true,
            nodeIntegration: false,
            nodeIntegrationInWorker: false,
            webviewTag: false,
            webSecurity: true,
            allowRunningInsecureContent: false,
          },
        );
        assert.equal(prefs.preload, join(out, 'preload', 'index.js'));
        assert.ok(existsSync(prefs.preload as string), 'the preload is in the package');
        assert.equal(window.loadedURL, 'app://atlas/index.html');
      });

      await t.test('the packaged app’s menu has no reload or developer tools', () => {
        const roles = JSON.stringify(record.menu);
        assert.match(roles, /"editMenu"/);
        assert.doesNotMatch(roles, /toggleDevTools|"reload"/);
      });

      await t.test('app:// serves the packed renderer with its CSP and types, and nothing else', async () => {
        const serve = record.protocolHandlers.get('app')!;
        const policy = load(join(out, 'main', 'shared', 'renderer-policy.js')) as typeof RendererPolicy;
        const get = (url: string, method = 'GET'): Promise<Response> => serve(new Request(url, { method }));
        for (const [path, file, type] of [
          ['/', 'index.html', 'text/html'],
          ['/app.js', 'app.js', 'javascript'],
          ['/app.css', 'app.css', 'text/css'],
        ] as const) {
          const response = await get(`app://atlas${path}`);
          assert.equal(response.status, 200, path);
          assert.match(response.headers.get('content-type') ?? '', new RegExp(type), path);
          assert.equal(response.headers.get('content-security-policy'), policy.contentSecurityPolicy());
          assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
          const body = Buffer.from(await response.arrayBuffer());
          assert.ok(body.equals(readFileSync(join(out, 'renderer', file))), `${path} is not ${file}`);
        }
        for (const refused of [
          'app://atlas/..%2f..%2fpackage.json',
          'app://atlas/%2e%2e/main/index.js',
          'app://atlas/..%2fmain%2findex.js',
          'app://atlas/app.js.map',
          'app://elsewhere/index.html',
        ]) {
          assert.equal((await get(refused)).status, 404, refused);
        }
        assert.equal((await get('app://atlas/index.html', 'POST')).status, 404, 'POST');
      });

      await t.test('every request channel of the contract is registered, and only those', async () => {
        assert.deepEqual([...record.ipcHandlers.keys()].sort(), Object.keys(CHANNELS).sort());
        // the packed preload forwards to them
        load(join(out, 'preload', 'index.js'));
        const api = record.exposed.get('atlas') as AtlasApi;
        const info = (await api.invoke('app:info', {})) as Reply;
        assert.deepEqual(info, { ok: true, value: { version: '0.0.0-fake', platform: process.platform } });
      });

      await t.test('a call that is not from the app window’s own page is refused', async () => {
        const refusals: Array<[string, unknown]> = [
          [
            'another origin',
            { sender: window.webContents, senderFrame: { url: 'https://evil.example/', parent: null } },
          ],
          ['an iframe', { sender: window.webContents, senderFrame: { url: 'app://atlas/x', parent: {} } }],
          [
            'another web contents',
            { sender: new FakeWebContents(), senderFrame: { url: 'app://atlas/', parent: null } },
          ],
          ['no frame', { sender: window.webContents, senderFrame: null }],
        ];
        for (const [what, event] of refusals) {
          const reply = await call('settings:set', { buildFolder: '/tmp/evil' }, event);
          assert.equal(reply.ok, false, what);
          assert.equal(!reply.ok && reply.error.code, 'PERMISSION_DENIED', what);
        }
      });

      await t.test('web contents and the session are locked down', () => {
        guardsHold(record);
      });

      await t.test('quitting cancels the running job, then the app exits', async () => {
        const jobId = await startInsert(call, scratch());
        record.windows[0]!.webContents.sent.length = 0;
        const exitsBefore = record.quits;
        electronApp().quit();
        assert.equal(record.quits, exitsBefore, 'the app waits for the job to stop');
        await until('the app to exit', () => record.quits > exitsBefore);
        const finished = window.webContents.sent.find(
          (s) => s.channel === 'job:finished' && (s.payload as { jobId: string }).jobId === jobId,
        );
        assert.ok(finished, 'job:finished was sent');
        const outcome = (finished.payload as { outcome: Reply }).outcome;
        assert.equal(!outcome.ok && outcome.error.code, 'CANCELLED', JSON.stringify(outcome));
        const left = readdirSync(join(scratch(), 'insert-out'));
        assert.deepEqual(
          left.filter((n) => !n.startsWith('.')),
          [],
          'nothing is left of the insert',
        );
      });
    } finally {
      uninstall();
    }
  });
}

/** The stand-in's `app`, as main/index.ts got it. */
function electronApp(): { quit(): void; emit(event: string, ...args: unknown[]): void } {
  return (createRequire(__filename)('electron') as { app: ReturnType<typeof electronApp> }).app;
}

function guardsHold(record: ElectronRecord): void {
  const app = electronApp();
  const contents = new FakeWebContents();
  app.emit('web-contents-created', preventable(), contents);
  for (const event of ['will-navigate', 'will-redirect', 'will-attach-webview']) {
    const e = preventable();
    contents.emit(event, e, 'https://example.com/');
    assert.equal(e.defaultPrevented, true, `${event} is not prevented`);
  }
  assert.deepEqual(contents.windowOpenHandler?.({ url: 'https://example.com/' }), { action: 'deny' });
  let granted: boolean | null = null;
  record.permissionRequestHandler!(null, 'media', (ok) => (granted = ok));
  assert.equal(granted, false);
  assert.equal(record.permissionCheckHandler!(null, 'notifications'), false);
  assert.equal(record.devicePermissionHandler!({}), false);
  const verdict = (url: string): boolean => {
    let cancel = false;
    record.beforeRequest!({ url }, (r) => (cancel = r.cancel));
    return cancel;
  };
  assert.equal(verdict('https://example.com/track.js'), true);
  assert.equal(verdict('app://atlas/app.js'), false);
}

/** Starts an Insert through the app's own channel; it runs long enough (a 160 MiB image) to be cancelled. */
async function startInsert(
  call: (channel: string, request: unknown) => Promise<Reply>,
  dir: string,
): Promise<string> {
  const base = join(dir, 'quit-base.img');
  shell(`IMG_MIB=160 FAT_MIB=64 bash ${ROOT}/test/fixtures/make-armbian-image.sh ${base}`);
  const input = (name: string, text: string, mode: number): string => {
    const path = join(dir, name);
    writeFileSync(path, text);
    chmodSync(path, mode);
    return path;
  };
  const outDir = join(dir, 'insert-out');
  mkdirSync(outDir);
  const reply = await call('insert:start', {
    base,
    firstboot: input('quit-firstboot.sh', '#!/bin/bash\n', 0o755),
    service: input('quit.service', '[Service]\nExecStart=/bin/true\n', 0o644),
    secrets: input('quit-secrets.conf', 'TOKEN=quit\n', 0o600),
    version: 1,
    patch: 0,
    tag: 'QUIT',
    outDir,
  });
  assert.equal(reply.ok, true, JSON.stringify(reply));
  return (reply as { value: { jobId: string } }).value.jobId;
}
