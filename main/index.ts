/**
 * Electron entry: the app's lifecycle and its one window. Everything real happens in main/app (plain Node) and
 * the engine; this file only connects them to Electron.
 */
import { app, BrowserWindow } from 'electron';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { createHandlers, type AppHandlers } from './app/handlers';
import { productionDeps } from './app/production';
import { electronDialogs } from './electron/dialogs';
import { showItemInFolder } from './electron/shell';
import { IpcBridge } from './electron/ipc';
import { installMenu } from './electron/menu';
import { showJobProgress } from './electron/progress';
import { registerSchemePrivileges, serveRenderer } from './electron/protocol';
import { guardWebContents, hardenSessions } from './electron/security';
import { createMainWindow } from './electron/window';

// out/main/index.js → out/renderer, out/preload
const OUT = join(__dirname, '..');

app.enableSandbox();
registerSchemePrivileges();
guardWebContents();

let window: BrowserWindow | null = null;
let handlers: AppHandlers | null = null;
const bridge = new IpcBridge();

function openWindow(): void {
  window = createMainWindow(join(OUT, 'preload', 'index.js'));
  bridge.trust(window);
  window.on('closed', () => (window = null));
}

if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  app.on('second-instance', () => {
    if (window) {
      if (window.isMinimized()) window.restore();
      window.focus();
    }
  });

  void app.whenReady().then(() => {
    hardenSessions();
    serveRenderer(join(OUT, 'renderer'));
    installMenu();
    handlers = createHandlers(
      productionDeps({
        version: app.getVersion(),
        platform: process.platform,
        configDir: app.getPath('userData'),
        homeDir: homedir(),
        emit: (event, payload) => bridge.emit(event, payload),
        dialogs: electronDialogs(() => window),
        showItemInFolder,
        onActivity: (jobs) => showJobProgress(window, jobs),
      }),
    );
    bridge.register(handlers);
    openWindow();
    app.on('activate', () => {
      if (BrowserWindow.getAllWindows().length === 0) openWindow();
    });
  });

  app.on('window-all-closed', () => app.quit());

  // Running jobs are cancelled (the helper closes the device) before the app exits.
  let quitting = false;
  app.on('before-quit', (event) => {
    if (quitting || !handlers) return;
    event.preventDefault();
    quitting = true;
    void handlers.dispose().finally(() => app.quit());
  });
}
