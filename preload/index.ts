/**
 * The preload: builds `window.atlas` (the contract's AtlasApi) over ipcRenderer and exposes nothing else. Only the
 * contract's channel names pass, listeners get the payload without the IPC event (which would leak `sender`), and
 * dropped files become paths through webUtils (File.path is gone since Electron 32).
 */
import { contextBridge, ipcRenderer, webUtils, type IpcRendererEvent } from 'electron';
import type { AtlasApi, EventChannel, RequestChannel } from '../main/contract';

// Records, not arrays: a channel added to the contract and missing here is a type error.
const REQUESTS: Record<RequestChannel, true> = {
  'app:info': true,
  'settings:get': true,
  'settings:set': true,
  'drives:list': true,
  'dialog:open-file': true,
  'dialog:open-folder': true,
  'image:inspect': true,
  'library:list': true,
  'remote:list': true,
  'clone:inspect': true,
  'flash:start': true,
  'insert:prepare-base': true,
  'insert:check': true,
  'insert:start': true,
  'clone:start': true,
  'restore:start': true,
  'deploy:list': true,
  'card:check': true,
  'verify:start': true,
  'vault:sync': true,
  'vault:verify': true,
  'job:cancel': true,
  'log:list': true,
  'shell:show-item': true,
};
const EVENTS: Record<EventChannel, true> = {
  'job:progress': true,
  'job:finished': true,
  'drives:changed': true,
};

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
