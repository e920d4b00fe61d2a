/** Request checks more than one group of handlers uses (the shape checks themselves are ../validate.ts). */
import { promises as fsp } from 'node:fs';
import { AtlasError, toAtlasError } from '../../engine/errors';
import { checkTag } from '../../engine/names';
import * as v from '../validate';

const NO_FIELDS: readonly string[] = [];

/** A request that carries nothing: absent, or an empty object. */
export function empty(request: unknown): void {
  v.onlyKeys(v.object(request ?? {}), NO_FIELDS);
}

/** `path` as given, once it is known to be an existing file or folder. */
export async function existing(path: string, what: string, kind: 'file' | 'folder'): Promise<string> {
  const stat = await fsp.stat(path).catch((error: unknown) => {
    throw toAtlasError(error, what);
  });
  if (kind === 'file' ? !stat.isFile() : !stat.isDirectory()) {
    throw new AtlasError('INVALID_ARGUMENT', `${what} ${path} is not a ${kind}.`);
  }
  return path;
}

export function tag(value: unknown): string {
  return checkTag(v.string(value, 'The tag', 256));
}
