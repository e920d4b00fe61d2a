/**
 * A recording stand-in for the `electron` module (tests only; there is no Electron binary here). While
 * installed, `require('electron')` anywhere gives it, so main/index.ts, main/electron/ and the preload bundle run
 * unchanged and the test reads what they asked of Electron: the window's options, the protocol handler, the
 * IPC handlers, the session's guards, the menu, quitting.
 */
import Module from 'node:module';

type Listener = (...args: unknown[]) => unknown;

class Emitter {
  readonly listeners = new Map<string, Listener[]>();
  on(event: string, listener: Listener): this {
    this.listeners.set(event, [...(this.listeners.get(event) ?? []), listener]);
    return this;
  }
  once(event: string, listener: Listener): this {
    return this.on(event, listener);
  }
  emit(event: string, ...args: unknown[]): void {
    for (const listener of this.listeners.get(event) ?? []) listener(...args);
  }
}

/** An Electron event whose default the listener may prevent. */
export function preventable(): { defaultPrevented: boolean; preventDefault(): void } {
  return {
    defaultPrevented: false,
    preventDefault() {
      this.defaultPrevented = true;
    },
  };
}

export class FakeWebContents extends Emitter {
  static nextId = 1;
  readonly id = FakeWebContents.nextId++;
  readonly sent: Array<{ channel: string; payload: unknown }> = [];
  windowOpenHandler: ((details: unknown) => unknown) | null = null;
  send(channel: string, payload: unknown): void {
    this.sent.push({ channel, payload });
  }
  setWindowOpenHandler(handler: (details: unknown) => unknown): void {
    this.windowOpenHandler = handler;
  }
}

export interface ElectronRecord {
  sandboxEnabled: boolean;
  privilegedSchemes: unknown[];
  protocolHandlers: Map<string, (request: Request) => Promise<Response>>;
  ipcHandlers: Map<string, (event: unknown, request: unknown) => Promise<unknown>>;
  windows: FakeWindow[];
  menu: unknown;
  permissionRequestHandler: ((c: unknown, p: string, callback: (ok: boolean) => void) => void) | null;
  permissionCheckHandler: ((...args: unknown[]) => boolean) | null;
  devicePermissionHandler: ((...args: unknown[]) => boolean) | null;
  beforeRequest: ((details: { url: string }, callback: (r: { cancel: boolean }) => void) => void) | null;
  exposed: Map<string, unknown>;
  /** how many times the app really quit (app.quit with before-quit not prevented) */
  quits: number;
  ready(): void;
}

export class FakeWindow extends Emitter {
  readonly webContents = new FakeWebContents();
  readonly titles: string[] = [];
  loadedURL = '';
  constructor(readonly options: Record<string, unknown>) {
    super();
    record.windows.push(this);
  }
  static getAllWindows(): FakeWindow[] {
    return record.windows;
  }
  loadURL(url: string): Promise<void> {
    this.loadedURL = url;
    return Promise.resolve();
  }
  isDestroyed(): boolean {
    return false;
  }
  isMinimized(): boolean {
    return false;
  }
  setProgressBar(): void {}
  setTitle(title: string): void {
    this.titles.push(title);
  }
  show(): void {}
  focus(): void {}
  restore(): void {}
}

let markReady: () => void = () => undefined;
const readyPromise = new Promise<void>((resolve) => (markReady = resolve));

const record: ElectronRecord = {
  sandboxEnabled: false,
  privilegedSchemes: [],
  protocolHandlers: new Map(),
  ipcHandlers: new Map(),
  windows: [],
  menu: null,
  permissionRequestHandler: null,
  permissionCheckHandler: null,
  devicePermissionHandler: null,
  beforeRequest: null,
  exposed: new Map(),
  quits: 0,
  ready: () => markReady(),
};

class FakeApp extends Emitter {
  readonly isPackaged = true;
  constructor(private readonly userData: string) {
    super();
  }
  enableSandbox(): void {
    record.sandboxEnabled = true;
  }
  requestSingleInstanceLock(): boolean {
    return true;
  }
  whenReady(): Promise<void> {
    return readyPromise;
  }
  getVersion(): string {
    return '0.0.0-fake';
  }
  getPath(): string {
    return this.userData;
  }
  quit(): void {
    const event = preventable();
    this.emit('before-quit', event);
    if (!event.defaultPrevented) record.quits += 1;
  }
}

function fakeElectron(userData: string): Record<string, unknown> {
  const app = new FakeApp(userData);
  const ipcRendererListeners = new Emitter();
  return {
    app,
    BrowserWindow: FakeWindow,
    protocol: {
      registerSchemesAsPrivileged: (schemes: unknown[]) => record.privilegedSchemes.push(...schemes),
      handle: (scheme: string, handler: (request: Request) => Promise<Response>) =>
        record.protocolHandlers.set(scheme, handler),
    },
    session: {
      defaultSession: {
        setPermissionRequestHandler: (h: ElectronRecord['permissionRequestHandler']) =>
          (record.permissionRequestHandler = h),
        setPermissionCheckHandler: (h: ElectronRecord['permissionCheckHandler']) =>
          (record.permissionCheckHandler = h),
        setDevicePermissionHandler: (h: ElectronRecord['devicePermissionHandler']) =>
          (record.devicePermissionHandler = h),
        webRequest: {
          onBeforeRequest: (h: ElectronRecord['beforeRequest']) => (record.beforeRequest = h),
        },
      },
    },
    ipcMain: {
      handle: (channel: string, handler: (event: unknown, request: unknown) => Promise<unknown>) => {
        if (record.ipcHandlers.has(channel)) throw new Error(`second handler for ${channel}`);
        record.ipcHandlers.set(channel, handler);
      },
      removeHandler: (channel: string) => record.ipcHandlers.delete(channel),
    },
    Menu: {
      buildFromTemplate: (template: unknown) => template,
      setApplicationMenu: (menu: unknown) => (record.menu = menu),
    },
    dialog: { showOpenDialog: () => Promise.resolve({ canceled: true, filePaths: [] }) },
    // the preload's side: its calls reach main's handlers as from the first window's main frame
    contextBridge: { exposeInMainWorld: (name: string, api: unknown) => record.exposed.set(name, api) },
    ipcRenderer: {
      invoke: (channel: string, request: unknown) => {
        const handler = record.ipcHandlers.get(channel);
        if (!handler) return Promise.reject(new Error(`No handler registered for '${channel}'`));
        return handler(trustedEvent(record.windows[0]!), request);
      },
      on: (event: string, listener: Listener) => ipcRendererListeners.on(event, listener),
      removeListener: () => undefined,
    },
    webUtils: { getPathForFile: () => '' },
  };
}

/** An IPC event from a window's own page (its main frame, the app's origin). */
export function trustedEvent(window: FakeWindow): unknown {
  return { sender: window.webContents, senderFrame: { url: 'app://atlas/index.html', parent: null } };
}

type Resolver = (request: string, ...rest: unknown[]) => string;
const FAKE_ID = '\0fake-electron';

/** Makes `require('electron')` give the stand-in until the returned function is called. */
export function installFakeElectron(userData: string): { record: ElectronRecord; uninstall: () => void } {
  const loader = Module as unknown as { _resolveFilename: Resolver; _cache: Record<string, unknown> };
  const original = loader._resolveFilename;
  loader._resolveFilename = function (this: unknown, request: string, ...rest: unknown[]) {
    return request === 'electron' ? FAKE_ID : original.call(this, request, ...rest);
  };
  loader._cache[FAKE_ID] = { id: FAKE_ID, filename: FAKE_ID, loaded: true, exports: fakeElectron(userData) };
  return {
    record,
    uninstall: () => {
      loader._resolveFilename = original;
      delete loader._cache[FAKE_ID];
    },
  };
}
