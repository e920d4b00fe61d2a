/** The app itself: its version, the settings, the file and folder dialogs, and showing a Library item. */
import { basename } from 'node:path';
import { AtlasError } from '../../engine/errors';
import { listLibrary } from '../library';
import * as v from '../validate';
import { empty } from './checks';
import type { HandlerContext } from './context';
import { notAvailable, type HandlerGroup } from './types';

export type SessionChannel =
  | 'app:info'
  | 'settings:get'
  | 'settings:set'
  | 'dialog:open-file'
  | 'dialog:open-folder'
  | 'shell:show-item';

export function sessionHandlers({ deps, settings }: HandlerContext): HandlerGroup<SessionChannel> {
  return {
    'app:info': async (request) => {
      empty(request);
      return { version: deps.version, platform: deps.platform };
    },
    'settings:get': async (request) => {
      empty(request);
      return settings.get();
    },
    'settings:set': async (request) => settings.set(request),
    'dialog:open-file': async (request) => {
      const o = v.onlyKeys(v.object(request), ['purpose']);
      const purpose = oneOf(
        o.purpose,
        ['image', 'base-image', 'firstboot', 'service', 'secrets'] as const,
        'The purpose',
      );
      if (!deps.dialogs) throw notAvailable('The file dialog');
      return deps.dialogs.openFile(purpose, (await settings.get()).buildFolder);
    },
    'dialog:open-folder': async (request) => {
      const o = v.onlyKeys(v.object(request), ['purpose']);
      const purpose = oneOf(o.purpose, ['build', 'vault', 'clone-folder', 'output'] as const, 'The purpose');
      if (!deps.dialogs) throw notAvailable('The folder dialog');
      const s = await settings.get();
      return deps.dialogs.openFolder(purpose, purpose === 'vault' ? s.vaultFolder : s.buildFolder);
    },
    'shell:show-item': async (request) => {
      const o = v.onlyKeys(v.object(request), ['path']);
      const path = v.path(o.path, 'The item');
      if (!deps.showItemInFolder) throw notAvailable('Show in folder');
      // only what the Library lists: the renderer cannot have the file manager open anything else
      const { entries } = await listLibrary(await settings.get());
      if (!entries.some((e) => e.path === path)) {
        throw new AtlasError(
          'NOT_FOUND',
          `${basename(path)} is not in the Library (the build folder or the vault). Refresh the list.`,
        );
      }
      deps.showItemInFolder(path);
      return {};
    },
  };
}

function oneOf<T extends string>(value: unknown, options: readonly T[], what: string): T {
  if (typeof value !== 'string' || !options.includes(value as T)) {
    throw new AtlasError('INVALID_ARGUMENT', `${what} must be one of ${options.join(', ')}.`);
  }
  return value as T;
}
