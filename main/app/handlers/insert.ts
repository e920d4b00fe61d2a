/**
 * Building and checking files in this process: Insert's fields checked as they are picked, the base image hashed
 * ahead, the insert itself, and verifying an image or clone folder.
 */
import { promises as fsp } from 'node:fs';
import { toAtlasError } from '../../engine/errors';
import { checkInsertFields } from '../../engine/jobs/insert/check-fields';
import { GOLDEN_NUMBER_MAX } from '../../shared/names';
import * as v from '../validate';
import { existing, tag } from './checks';
import type { HandlerContext } from './context';
import type { FileJobRequests, HandlerGroup } from './types';

export type InsertChannel = 'insert:prepare-base' | 'insert:check' | 'insert:start' | 'verify:start';

const INSERT_FIELDS = [
  'base',
  'firstboot',
  'service',
  'secrets',
  'version',
  'patch',
  'tag',
  'outDir',
  'force',
];

export function insertHandlers(ctx: HandlerContext): HandlerGroup<InsertChannel> {
  const { deps, settings } = ctx;
  // one base hashed ahead at a time: choosing another base stops the previous hash
  let prehash: { base: string; controller: AbortController } | null = null;
  ctx.onDispose(() => prehash?.controller.abort());

  return {
    'insert:prepare-base': async (request) => {
      const o = v.onlyKeys(v.object(request), ['base']);
      const base = await existing(v.path(o.base, 'The base image'), 'The base image', 'file');
      if (!deps.prehashBase) return { hashing: false };
      if (prehash?.base === base) return { hashing: true };
      prehash?.controller.abort();
      const controller = new AbortController();
      prehash = { base, controller };
      // best effort: a failure here only means the insert hashes the base itself
      void deps
        .prehashBase(base, (await settings.get()).buildFolder, controller.signal)
        .catch(() => undefined)
        .finally(() => {
          if (prehash?.controller === controller) prehash = null;
        });
      return { hashing: true };
    },
    'insert:check': async (request) => {
      const o = v.onlyKeys(v.object(request), INSERT_FIELDS);
      // a field not picked yet is not checked; one picked is checked as the build will check it
      const path = (value: unknown, what: string): string | undefined =>
        value === undefined || value === '' ? undefined : v.path(value, what);
      const number = (value: unknown, what: string): number | undefined =>
        value === undefined ? undefined : v.integer(value, what, 0, GOLDEN_NUMBER_MAX);
      const given = {
        base: path(o.base, 'The base image'),
        firstboot: path(o.firstboot, 'The firstboot script'),
        service: path(o.service, 'The service unit'),
        secrets: path(o.secrets, 'The secrets file'),
        version: number(o.version, 'The version N'),
        patch: number(o.patch, 'The patch P'),
        tag: o.tag === undefined ? undefined : v.string(o.tag, 'The tag', 256),
        outDir: path(o.outDir, 'The output folder') ?? (await settings.get()).buildFolder,
        force: v.optionalBoolean(o.force, 'Replace'),
      };
      return checkInsertFields(
        Object.fromEntries(Object.entries(given).filter(([, value]) => value !== undefined)),
      );
    },
    'insert:start': async (request) => {
      const o = v.onlyKeys(v.object(request), INSERT_FIELDS);
      const s = await settings.get();
      const r: FileJobRequests['insert'] = {
        base: await existing(v.path(o.base, 'The base image'), 'The base image', 'file'),
        firstboot: await existing(
          v.path(o.firstboot, 'The firstboot script'),
          'The firstboot script',
          'file',
        ),
        service: await existing(v.path(o.service, 'The service unit'), 'The service unit', 'file'),
        secrets: await existing(v.path(o.secrets, 'The secrets file'), 'The secrets file', 'file'),
        version: v.integer(o.version, 'The version N', 0, GOLDEN_NUMBER_MAX),
        patch: v.integer(o.patch, 'The patch P', 0, GOLDEN_NUMBER_MAX),
        tag: tag(o.tag),
        outDir: o.outDir === undefined ? s.buildFolder : v.path(o.outDir, 'The output folder'),
        force: v.optionalBoolean(o.force, 'Force') ?? false,
      };
      return ctx.startFileJob('insert', r);
    },
    'verify:start': async (request) => {
      const o = v.onlyKeys(v.object(request), ['path']);
      const path = v.path(o.path, 'The path');
      await fsp.stat(path).catch((error: unknown) => {
        throw toAtlasError(error, 'Verify');
      });
      return ctx.startFileJob('verify', { path });
    },
  };
}
