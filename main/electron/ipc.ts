/**
 * Registers every request channel of the contract with ipcMain.handle, behind the sender check, and sends the
 * app's events to the trusted windows. The handlers themselves are main/app's plain functions.
 */
import { ipcMain, type BrowserWindow } from 'electron';
import type { AppHandlers } from '../app/handlers';
import type { EventChannel, EventOf, RequestChannel } from '../contract';
import { isTrustedSender } from './security';

export class IpcBridge {
  private readonly windows = new Map<number, BrowserWindow>();

  trust(window: BrowserWindow): void {
    const id = window.webContents.id;
    this.windows.set(id, window);
    window.on('closed', () => this.windows.delete(id));
  }

  register(app: AppHandlers): void {
    for (const channel of Object.keys(app.handlers) as RequestChannel[]) {
      ipcMain.handle(channel, async (event, request: unknown) => {
        if (!isTrustedSender(event.senderFrame, event.sender.id, new Set(this.windows.keys()))) {
          return {
            ok: false,
            error: {
              code: 'PERMISSION_DENIED',
              message: 'Request refused: it did not come from Atlas Imager.',
            },
          };
        }
        return app.dispatch(channel, request);
      });
    }
  }

  unregister(app: AppHandlers): void {
    for (const channel of Object.keys(app.handlers)) ipcMain.removeHandler(channel);
  }

  emit<E extends EventChannel>(event: E, payload: EventOf<E>): void {
    for (const window of this.windows.values()) {
      if (!window.isDestroyed()) window.webContents.send(event, payload);
    }
  }
}
