/**
 * The preload: builds `window.atlas` (the contract's AtlasApi) over ipcRenderer and exposes nothing else. Only the
 * contract's channel names pass, listeners get the payload without the IPC event (which would leak `sender`), and
 * dropped files become paths through webUtils (File.path is gone since Electron 32).
 */
import { contextBridge, ipcRenderer, webUtils, type IpcRendererEvent } from 'electron';
import type { AtlasApi } from '../main/contract';
import { EVENT_CHANNELS, REQUEST_CHANNELS } from '../main/contract/channel-list';

const REQUESTS = REQUEST_CHANNELS;
const EVENTS = EVENT_CHANNELS;

const api: AtlasApi = {
  invoke(channel, request) {
    if (!Object.hasOwn(REQUESTS, channel)) {
      return Promise.resolve({
        ok: false,
        error: { code: 'INVALID_ARGUMENT', message: `Unknown request "${String(channel)}".` },
      });
    }
    return ipcRenderer.invoke(channel, request);
  },
  on(event, listener) {
    if (!Object.hasOwn(EVENTS, event)) throw new Error(`Unknown event "${String(event)}".`);
    const forward = (_event: IpcRendererEvent, payload: unknown): void => listener(payload as never);
    ipcRenderer.on(event, forward);
    return () => {
      ipcRenderer.removeListener(event, forward);
    };
  },
  pathForFile(file) {
    try {
      return webUtils.getPathForFile(file as File);
    } catch {
      return '';
    }
  },
};

contextBridge.exposeInMainWorld('atlas', api);
