/**
 * Serves the built renderer on 127.0.0.1 plus a WebSocket endpoint on the same createHandlers the Electron app
 * registers, with test dependencies: a fake drive list (image files in a temp folder stand in for cards) and
 * scripted file dialogs. The browser tests and `npm run start:web` use it; the page gets `window.atlas` from
 * shim.ts.
 *
 * Run directly (`node out/test/e2e/serve.js`) it serves a demo with two fake cards and a sample image.
 */
import { createServer, type Server } from 'node:http';
import { promises as fsp, writeFileSync, mkdtempSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { extname, join, normalize, sep } from 'node:path';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import {
  createHandlers,
  type AppHandlers,
  type DeviceJobRequests,
  type DeviceJobRunner,
  type HandlerDeps,
} from '../../main/app/handlers';
import { flashJob } from '../../main/engine/jobs/flash';
import { toCheckCardResult, toCloneResult, toFlashResult, toRestoreResult } from '../../main/app/adapters';
import { cloneJob } from '../../main/engine/jobs/clone';
import { restoreJob } from '../../main/engine/jobs/restore';
import { checkCard } from '../../main/engine/jobs/check-card';
import { inProcessFileJobs } from '../../main/app/production';
import { prehashBase } from '../../main/engine/jobs/insert';
import type { Drive, FilePurpose, FolderPurpose } from '../../main/contract';
import { shimScript } from './shim';
import { contentSecurityPolicy, contentTypeOf, withPolicy } from '../../main/shared/renderer-policy';
import { localCardAccess } from '../../main/engine/drives/index';
import { card, SYSTEM_DISK } from '../support/drives';

// the app's policy, but the page talks to this server over a WebSocket
const CSP = contentSecurityPolicy({ connectSelf: true });

export interface TestServerOptions {
  rendererDir: string;
  /** the settings.json folder and the home of ~/atlas-build */
  configDir: string;
  homeDir: string;
  drives?: Drive[];
  runDeviceJob?: HandlerDeps['runDeviceJob'];
  fileJobs?: HandlerDeps['fileJobs'];
  prehashBase?: HandlerDeps['prehashBase'];
  /** answers for the dialogs when nothing is queued (the demo) */
  defaultDialogAnswers?: Partial<Record<FilePurpose | FolderPurpose, string>>;
  port?: number;
  /** serve the shim from the page itself (for a person's browser; the tests inject it with addInitScript) */
  injectShim?: boolean;
}

export interface TestServer {
  url: string;
  /** the script to give page.addInitScript */
  shim: string;
  app: AppHandlers;
  /** replaces the fake drive list and tells the pages, as a hot-plug would */
  setDrives(drives: Drive[]): void;
  /** the paths the app asked the file manager to show, in order */
  shownItems: string[];
  /** the next file or folder dialog returns this path (null: the user cancelled) */
  queueDialog(answer: string | null): void;
  close(): Promise<void>;
}

export async function startTestServer(options: TestServerOptions): Promise<TestServer> {
  let drives = options.drives ?? [];
  let notify: ((drives: Drive[]) => void) | null = null;
  const answers: Array<string | null> = [];
  const sockets = new Set<WebSocket>();
  const shownItems: string[] = [];
  const answer = async (purpose: FilePurpose | FolderPurpose): Promise<string | null> =>
    answers.length > 0 ? answers.shift()! : (options.defaultDialogAnswers?.[purpose] ?? null);

  const app = createHandlers({
    version: 'e2e',
    platform: process.platform,
    configDir: options.configDir,
    homeDir: options.homeDir,
    listDrives: async () => drives,
    watchDrives: (onChange) => {
      notify = onChange;
      return () => (notify = null);
    },
    emit: (event, payload) => {
      const text = JSON.stringify({ event, payload });
      for (const socket of sockets) socket.send(text);
    },
    dialogs: { openFile: answer, openFolder: answer },
    showItemInFolder: (path) => shownItems.push(path),
    ...(options.runDeviceJob ? { runDeviceJob: options.runDeviceJob } : {}),
    ...(options.fileJobs ? { fileJobs: options.fileJobs } : {}),
    ...(options.prehashBase ? { prehashBase: options.prehashBase } : {}),
  });

  const root = normalize(options.rendererDir + sep);
  let shim = '';
  const server: Server = createServer((request, response) => {
    const pathname = new URL(request.url ?? '/', 'http://127.0.0.1').pathname;
    if (options.injectShim && pathname === '/atlas-shim.js') {
      response
        .writeHead(200, { 'Content-Type': contentTypeOf('.js'), 'Content-Security-Policy': CSP })
        .end(shim);
      return;
    }
    const file = normalize(join(root, decodeURIComponent(pathname === '/' ? '/index.html' : pathname)));
    if (!file.startsWith(root) || request.method !== 'GET') {
      response.writeHead(404).end();
      return;
    }
    fsp.readFile(file).then(
      (content) => {
        // the page's own policy, loosened as the header is to reach this server's WebSocket
        const page = (): string =>
          withPolicy(content.toString('utf8'), contentSecurityPolicy({ connectSelf: true, meta: true }));
        const body = !file.endsWith('index.html')
          ? content
          : options.injectShim
            ? page().replace(
                '<script type="module"',
                '<script src="atlas-shim.js"></script>\n    <script type="module"',
              )
            : page();
        response.writeHead(200, {
          'Content-Type': contentTypeOf(extname(file)),
          'Content-Security-Policy': CSP,
          'Cache-Control': 'no-store',
        });
        response.end(body);
      },
      () => response.writeHead(404).end(),
    );
  });
  const wss = new WebSocketServer({ server, path: '/atlas' });
  wss.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('message', (data) => {
      let message: { id?: unknown; channel?: unknown; request?: unknown };
      try {
        message = JSON.parse(String(data)) as typeof message;
      } catch {
        return;
      }
      if (typeof message.id !== 'number' || typeof message.channel !== 'string') return;
      void app.dispatch(message.channel, message.request).then((reply) => {
        socket.send(JSON.stringify({ id: message.id, reply }));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}/`;
  shim = shimScript(`ws://127.0.0.1:${port}/atlas`);
  return {
    url,
    shim,
    app,
    shownItems,
    setDrives(next) {
      drives = next;
      notify?.(next);
    },
    queueDialog(path) {
      answers.push(path);
    },
    async close() {
      await app.dispose();
      for (const socket of sockets) socket.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * Device jobs onto fake cards (plain files) through the real engine jobs, in process: no re-listing of the
 * machine's drives (the handlers checked the fake list), an eject that only says yes, buffered I/O (tmpfs has no
 * O_DIRECT).
 */
export const fileDeviceJobs: DeviceJobRunner = async (kind, request, control) => {
  if (kind === 'flash') {
    const r = request as DeviceJobRequests['flash'];
    const result = await flashJob(
      {
        source: r.image.path,
        targets: r.targets.map((t) => ({ device: t.device })),
        verify: r.verify,
        usedBlocksOnly: r.usedBlocksOnly,
        // a fake card is a file: nothing to eject, so the fake says it went (as a card reader would)
        eject: true,
        access: { ...localCardAccess(), eject: async () => true },
        directIO: false,
      },
      control,
    );
    return toFlashResult(result) as never;
  }
  if (kind === 'clone') {
    const r = request as DeviceJobRequests['clone'];
    const result = await cloneJob(
      {
        source: r.source.device,
        outDir: r.outDir,
        tag: r.tag,
        allowUnbooted: r.allowUnbooted,
        access: localCardAccess(),
        sourceInfo: { model: r.source.description, ...(r.source.serial ? { serial: r.source.serial } : {}) },
      },
      control,
    );
    return toCloneResult(result) as never;
  }
  if (kind === 'check-card') {
    const r = request as DeviceJobRequests['check-card'];
    const dev = await localCardAccess().open(r.target.device, { write: true, direct: true });
    try {
      return toCheckCardResult(await checkCard(dev, control)) as never;
    } finally {
      await dev.handle.close();
    }
  }
  const r = request as DeviceJobRequests['restore'];
  const result = await restoreJob(
    {
      folder: r.folder,
      targets: r.targets.map((t, i) => ({
        device: t.device,
        ...(r.hostnames ? { hostname: r.hostnames[i]! } : {}),
      })),
      intent: r.intent,
      grow: r.grow,
      eject: false,
      access: localCardAccess(),
    },
    control,
  );
  return toRestoreResult(result) as never;
};

/** A fake card: an image file standing in for /dev/sdX (the contract's card, 64 MiB, its serial from the name). */
export function fakeCard(path: string, overrides: Partial<Drive> = {}): Drive {
  return card({
    device: path,
    description: 'Generic STORAGE DEVICE',
    size: 64 * 1024 * 1024,
    serial: `SN-${path.split('/').pop()}`,
    ...overrides,
  });
}

export { SYSTEM_DISK };

async function demo(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'atlas-web-'));
  const image = join(dir, 'ods-atlas-golden-v8-0-DEMO.img');
  writeFileSync(image, Buffer.alloc(8 * 1024 * 1024, 0x5a));
  const cards = ['card-a.img', 'card-b.img'].map((name) => {
    const path = join(dir, name);
    writeFileSync(path, Buffer.alloc(0));
    truncateSync(path, 64 * 1024 * 1024);
    return path;
  });
  for (const name of ['atlas_firstboot.sh', 'atlas-firstboot.service', 'atlas_secrets.conf'])
    writeFileSync(join(dir, name), '# demo\n');
  const server = await startTestServer({
    rendererDir: join(__dirname, '..', '..', 'renderer'),
    configDir: join(dir, 'config'),
    homeDir: dir,
    drives: [
      fakeCard(cards[0]!, { description: 'SanDisk Ultra (demo)' }),
      fakeCard(cards[1]!, { description: 'Kingston Canvas (demo)', size: 256e9, large: true }),
      SYSTEM_DISK,
    ],
    defaultDialogAnswers: {
      image,
      'base-image': image,
      firstboot: join(dir, 'atlas_firstboot.sh'),
      service: join(dir, 'atlas-firstboot.service'),
      secrets: join(dir, 'atlas_secrets.conf'),
      build: dir,
      output: dir,
      'clone-folder': dir,
    },
    port: Number(process.env.PORT ?? 5178),
    injectShim: true,
    runDeviceJob: fileDeviceJobs,
    fileJobs: inProcessFileJobs,
    prehashBase,
  });
  console.log(`Atlas Imager (web demo) on ${server.url}  — fake cards in ${dir}`);
}

if (require.main === module) void demo();
