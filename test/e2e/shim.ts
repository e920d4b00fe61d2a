/**
 * The browser tests' `window.atlas`: the same AtlasApi the preload builds, carried over a WebSocket to the test
 * server's createHandlers. Injected with page.addInitScript as source text, so this function must be
 * self-contained (no imports at run time, no closures over module scope).
 */
import type { AtlasApi, EventChannel, Reply } from '../../main/contract';

export function installAtlasShim(wsUrl: string): void {
  type Listener = (payload: unknown) => void;
  const pending = new Map<number, (reply: Reply<unknown>) => void>();
  const listeners = new Map<string, Set<Listener>>();
  let nextId = 1;
  const socket = new WebSocket(wsUrl);
  const opened = new Promise<void>((resolve, reject) => {
    socket.addEventListener('open', () => resolve());
    socket.addEventListener('error', () => reject(new Error('The test server is not reachable.')));
  });
  socket.addEventListener('message', (message: { data: unknown }) => {
    const data = JSON.parse(String(message.data)) as {
      id?: number;
      reply?: Reply<unknown>;
      event?: string;
      payload?: unknown;
    };
    if (typeof data.id === 'number') {
      pending.get(data.id)?.(data.reply!);
      pending.delete(data.id);
    } else if (data.event) {
      for (const listener of listeners.get(data.event) ?? []) listener(data.payload);
    }
  });
  const api: AtlasApi = {
    async invoke(channel, request) {
      await opened;
      const id = nextId++;
      return new Promise((resolve) => {
        pending.set(id, resolve as (reply: Reply<unknown>) => void);
        socket.send(JSON.stringify({ id, channel, request }));
      });
    },
    on(event: EventChannel, listener) {
      const set = listeners.get(event) ?? new Set<Listener>();
      set.add(listener as Listener);
      listeners.set(event, set);
      return () => {
        set.delete(listener as Listener);
      };
    },
    // a web page has no paths for dropped files: a test that drops one names its path here first
    pathForFile: (file) =>
      (globalThis as { atlasTestDropPaths?: Record<string, string> }).atlasTestDropPaths?.[file.name] ?? '',
  };
  Object.defineProperty(globalThis, 'atlas', {
    value: Object.freeze(api),
    configurable: false,
    writable: false,
  });
}

export function shimScript(wsUrl: string): string {
  return `(${installAtlasShim.toString()})(${JSON.stringify(wsUrl)});`;
}
