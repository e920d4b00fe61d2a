/** The vault: syncing the build folder (or a remote one, over ssh) into it, verifying it, listing a remote folder. */
import { AtlasError } from '../../engine/errors';
import { isRemoteFolderText } from '../../shared/remote-folders';
import { listRemote, remoteFolderOf } from '../remote';
import * as v from '../validate';
import type { HandlerContext } from './context';
import type { HandlerGroup } from './types';

export type VaultChannel = 'vault:sync' | 'vault:verify' | 'remote:list';

const MAX_ITEMS = 1000;

export function vaultHandlers(ctx: HandlerContext): HandlerGroup<VaultChannel> {
  const { settings } = ctx;
  return {
    'vault:sync': async (request) => {
      const o = v.onlyKeys(v.object(request ?? {}), ['from', 'to', 'items', 'dryRun', 'checksum']);
      const s = await settings.get();
      const from =
        o.from === undefined
          ? s.buildFolder
          : typeof o.from === 'string' && isRemoteFolderText(o.from)
            ? remoteFolderOf(o.from).text
            : v.path(o.from, 'The build folder');
      const to = o.to === undefined ? s.vaultFolder : v.path(o.to, 'The vault folder');
      if (from === to) {
        throw new AtlasError('INVALID_ARGUMENT', 'The build folder and the vault are the same folder.');
      }
      let items: string[] | undefined;
      if (o.items !== undefined) {
        if (!Array.isArray(o.items) || o.items.length === 0 || o.items.length > MAX_ITEMS) {
          throw new AtlasError('INVALID_ARGUMENT', `The items must be a list of 1 to ${MAX_ITEMS} names.`);
        }
        items = o.items.map((item) => artifactName(item));
      }
      const dryRun = v.optionalBoolean(o.dryRun, 'Dry run') ?? false;
      const checksum = v.optionalBoolean(o.checksum, 'Compare by checksum') ?? false;
      return ctx.startFileJob('vault-sync', { from, to, dryRun, checksum, ...(items ? { items } : {}) });
    },
    'vault:verify': async (request) => {
      const o = v.onlyKeys(v.object(request ?? {}), ['folder']);
      const folder =
        o.folder === undefined ? (await settings.get()).vaultFolder : v.path(o.folder, 'The vault folder');
      return ctx.startFileJob('vault-verify', { folder });
    },
    'remote:list': async (request) => {
      const o = v.onlyKeys(v.object(request), ['folder']);
      return listRemote(
        v.string(o.folder, 'The remote build folder', 1024),
        (await settings.get()).vaultFolder,
      );
    },
  };
}

/** An artifact's name: an image file name or a clone folder name, never a path. */
function artifactName(value: unknown): string {
  const name = v.string(value, 'An item', 255);
  if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) {
    throw new AtlasError(
      'INVALID_ARGUMENT',
      `"${name}" is not an artifact name (a file or folder name, no path).`,
    );
  }
  return name;
}
