/** What the Library page reads: the build folder and the vault, an image or clone folder, and the two records. */
import { readDeployments } from '../../engine/library/deployments';
import { readJobLog } from '../../engine/library/job-log';
import { inspectClone } from '../clone-info';
import { inspectImage } from '../image';
import { listLibrary } from '../library';
import * as v from '../validate';
import { empty } from './checks';
import type { HandlerContext } from './context';
import type { HandlerGroup } from './types';

export type LibraryChannel = 'library:list' | 'image:inspect' | 'clone:inspect' | 'deploy:list' | 'log:list';

export function libraryHandlers({ deps, settings }: HandlerContext): HandlerGroup<LibraryChannel> {
  return {
    'library:list': async (request) => {
      empty(request);
      return listLibrary(await settings.get());
    },
    'image:inspect': async (request) => {
      const o = v.onlyKeys(v.object(request), ['path']);
      return inspectImage(v.path(o.path, 'The image'));
    },
    'clone:inspect': async (request) => {
      const o = v.onlyKeys(v.object(request), ['folder']);
      return inspectClone(v.path(o.folder, 'The clone folder'));
    },
    'deploy:list': async (request) => {
      empty(request);
      return readDeployments((await settings.get()).buildFolder);
    },
    'log:list': async (request) => {
      empty(request);
      return readJobLog(deps.configDir);
    },
  };
}
