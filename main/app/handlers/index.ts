/**
 * createHandlers: one function per request channel of the contract, in plain Node. Electron registers them
 * behind ipcMain.handle (main/electron/ipc.ts); the browser tests serve the very same functions over a WebSocket.
 *
 * Nothing the renderer sends is trusted: every payload is checked for shape, paths must be absolute, and a device
 * job only starts when the drive the user confirmed is still the one plugged in and is a permissible target.
 * The channels are served by groups, one file each (session, library, devices, insert, vault); the map is put
 * together here, once, and typed against the contract's channel map so a channel without a handler does not
 * compile.
 */
import { toAtlasError } from '../../engine/errors';
import type { Reply, RequestChannel } from '../../contract';
import type { JobRegistry } from '../jobs';
import type { SettingsStore } from '../settings';
import { HandlerContext } from './context';
import { deviceHandlers } from './devices';
import { insertHandlers } from './insert';
import { libraryHandlers } from './library';
import { sessionHandlers } from './session';
import type { HandlerDeps, Handlers } from './types';
import { vaultHandlers } from './vault';

export * from './types';

export interface AppHandlers {
  handlers: Handlers;
  /** Runs a channel's handler and turns any failure into an ErrorDTO; unknown channels are refused. */
  dispatch(channel: string, request: unknown): Promise<Reply<unknown>>;
  jobs: JobRegistry;
  settings: SettingsStore;
  /** stops watching drives and cancels the running jobs */
  dispose(): Promise<void>;
}

export function createHandlers(deps: HandlerDeps): AppHandlers {
  const ctx = new HandlerContext(deps);
  const stopWatching = deps.watchDrives?.((drives) => deps.emit('drives:changed', { drives }));
  if (stopWatching) ctx.onDispose(stopWatching);

  const handlers: Handlers = joinGroups(
    sessionHandlers(ctx),
    libraryHandlers(ctx),
    deviceHandlers(ctx),
    insertHandlers(ctx),
    vaultHandlers(ctx),
  );

  return {
    handlers,
    jobs: ctx.jobs,
    settings: ctx.settings,
    async dispatch(channel, request) {
      if (!Object.hasOwn(handlers, channel)) {
        return { ok: false, error: { code: 'INVALID_ARGUMENT', message: `Unknown request "${channel}".` } };
      }
      try {
        const value = await handlers[channel as RequestChannel](request);
        return { ok: true, value };
      } catch (error) {
        const e = toAtlasError(error);
        return { ok: false, error: { code: e.code, message: e.message } };
      }
    },
    dispose: () => ctx.dispose(),
  };
}

/**
 * The groups' handlers as one map. The type sees every channel covered; a channel two groups both serve would
 * silently take the last one, so that is refused here (every test that creates the handlers would fail).
 */
export function joinGroups<G extends object[]>(...groups: G): UnionToIntersection<G[number]> {
  const all: Record<string, unknown> = {};
  for (const group of groups) {
    for (const [channel, handler] of Object.entries(group)) {
      if (Object.hasOwn(all, channel)) throw new Error(`Two handler groups serve "${channel}".`);
      all[channel] = handler;
    }
  }
  return all as UnionToIntersection<G[number]>;
}

type UnionToIntersection<U> = (U extends unknown ? (u: U) => void : never) extends (i: infer I) => void
  ? I
  : never;
