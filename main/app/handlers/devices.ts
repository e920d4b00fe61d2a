/**
 * The drives and the jobs that read or write a card (flash, clone, restore, check), and cancelling a job. A device
 * job only starts when the drive the user confirmed (device, size, serial) is still the one plugged in and is a
 * permissible target; the job itself runs in the elevated helper (the context's runner).
 */
import { promises as fsp } from 'node:fs';
import { AtlasError, toAtlasError } from '../../engine/errors';
import type { Drive, RestoreResult } from '../../contract';
import type { GivenHostname } from '../../shared/hostnames';
import {
  appendDeployments,
  deploymentRecords,
  failedRestoreSource,
  readGivenHostnames,
} from '../../engine/library/deployments';
import { cloneFolderName } from '../../shared/names';
import { inspectClone } from '../clone-info';
import { inspectImage } from '../image';
import { checkRestoreRequest, restoreHostnames } from '../restore-request';
import * as v from '../validate';
import { empty, existing, tag } from './checks';
import type { HandlerContext } from './context';
import type { HandlerGroup } from './types';

export type DeviceChannel =
  'drives:list' | 'flash:start' | 'clone:start' | 'restore:start' | 'card:check' | 'job:cancel';

const MAX_TARGETS = 16;

export function deviceHandlers(ctx: HandlerContext): HandlerGroup<DeviceChannel> {
  const { deps, settings, jobs } = ctx;
  // the hostnames of the deploys running now: not in the record until they end, but given all the same
  const running = new Set<GivenHostname[]>();
  return {
    'drives:list': async (request) => {
      empty(request);
      return deps.listDrives();
    },
    'flash:start': async (request) => {
      const o = v.onlyKeys(v.object(request), ['image', 'targets', 'verify', 'usedBlocksOnly']);
      const image = await inspectImage(v.path(o.image, 'The image'));
      const verify = v.boolean(o.verify, 'Verify');
      const usedBlocksOnly =
        o.usedBlocksOnly === undefined ? false : v.boolean(o.usedBlocksOnly, 'Used blocks only');
      if (usedBlocksOnly && image.format !== 'img') {
        throw new AtlasError(
          'INVALID_ARGUMENT',
          `Writing only the used blocks needs a raw .img; ${image.name} is an archive. Flash it whole, or decompress it first.`,
        );
      }
      if (!Array.isArray(o.targets) || o.targets.length === 0) {
        throw new AtlasError('INVALID_ARGUMENT', 'Choose at least one card to flash.');
      }
      if (o.targets.length > MAX_TARGETS) {
        throw new AtlasError('INVALID_ARGUMENT', `At most ${MAX_TARGETS} cards can be flashed at once.`);
      }
      const confirmed = o.targets.map((t, i) => v.snapshot(t, `Card ${i + 1}`));
      if (new Set(confirmed.map((s) => s.device)).size !== confirmed.length) {
        throw new AtlasError('INVALID_ARGUMENT', 'The same card is listed twice.');
      }
      const drives = await deps.listDrives();
      const targets: Drive[] = [];
      const context = { imageSize: image.imageSize, sourcePath: image.path, sourceName: image.name };
      for (const snap of confirmed) targets.push(await ctx.resolveDrive(snap, 'write', context, drives));
      return ctx.startDeviceJob(
        'flash',
        targets.map((d) => d.device),
        { image, targets, confirmed, verify, usedBlocksOnly },
      );
    },
    'clone:start': async (request) => {
      const o = v.onlyKeys(v.object(request), ['source', 'tag', 'outDir', 'allowUnbooted']);
      const confirmed = v.snapshot(o.source, 'The source card');
      const t = tag(o.tag);
      const allowUnbooted = v.optionalBoolean(o.allowUnbooted, 'Clone anyway') ?? false;
      const outDir =
        o.outDir === undefined ? (await settings.get()).buildFolder : v.path(o.outDir, 'The output folder');
      const source = await ctx.resolveDrive(confirmed, 'read');
      const target = `${outDir}/${cloneFolderName(t)}`;
      if (
        await fsp.stat(target).then(
          () => true,
          () => false,
        )
      ) {
        throw new AtlasError(
          'ALREADY_EXISTS',
          `${target} already exists. Choose another tag, or move the old clone away.`,
        );
      }
      return ctx.startDeviceJob('clone', [source.device], {
        source,
        confirmed,
        tag: t,
        outDir,
        allowUnbooted,
      });
    },
    'restore:start': async (request) => {
      const r = checkRestoreRequest(request);
      const folder = await existing(r.folder, 'The clone folder', 'folder');
      const clone = await inspectClone(folder);
      const drives = await deps.listDrives();
      const context = { sourcePath: folder, sourceName: clone.name, imageSize: clone.neededBytes };
      const targets: Drive[] = [];
      for (const snap of r.confirmed) targets.push(await ctx.resolveDrive(snap, 'write', context, drives));
      const { buildFolder } = await settings.get();
      // a deploy numbers on from the names the build folder's record gave (the Restore page previews the same),
      // and those of the deploys still running
      const given =
        r.hostnamePattern === null
          ? []
          : [...(await readGivenHostnames(buildFolder)), ...[...running].flat()];
      const hostnames = restoreHostnames(r.hostnamePattern, targets, given);
      if (r.shown && hostnames && r.shown.some((name, i) => name !== hostnames[i])) {
        throw new AtlasError(
          'CONFLICT',
          `The hostnames have moved on since they were shown (another deploy was recorded meanwhile): the cards would be ${hostnames.join(', ')}. Check the names and start again.`,
        );
      }
      const held: GivenHostname[] = (hostnames ?? []).map((hostname, i) => ({
        hostname,
        serial: targets[i]!.serial,
        time: new Date().toISOString(),
      }));
      const job = { folder, intent: r.intent, targets, confirmed: r.confirmed, hostnames, grow: r.grow };
      running.add(held);
      try {
        return ctx.startDeviceJob(
          'restore',
          targets.map((d) => d.device),
          job,
          async (value, error) => {
            try {
              return await record(value, error);
            } finally {
              running.delete(held);
            }
          },
        );
      } catch (error) {
        running.delete(held);
        throw error;
      }

      async function record(value: RestoreResult | null, error: unknown): Promise<RestoreResult | undefined> {
        const source =
          value ??
          (await failedRestoreSource(error, {
            folder,
            intent: r.intent,
            targets: targets.map((d, i) => ({ device: d.device, hostname: hostnames?.[i] ?? null })),
          }));
        if (!source) return undefined;
        const cards = targets.map((d) => ({
          device: d.device,
          model: d.description,
          serial: d.serial,
          size: d.size,
        }));
        try {
          await appendDeployments(buildFolder, deploymentRecords(source, cards, new Date()));
        } catch (problem) {
          // the cards are done either way: the person is told the record lacks them
          if (value) {
            return {
              ...value,
              recordProblem: `These cards could not be added to the deployment record in ${buildFolder}: ${toAtlasError(problem).message}`,
            };
          }
        }
        return undefined;
      }
    },
    'card:check': async (request) => {
      const o = v.onlyKeys(v.object(request), ['target']);
      const confirmed = v.snapshot(o.target, 'The card');
      const target = await ctx.resolveDrive(confirmed, 'write');
      return ctx.startDeviceJob('check-card', [target.device], { target, confirmed });
    },
    'job:cancel': async (request) => {
      const o = v.onlyKeys(v.object(request), ['jobId']);
      return { cancelled: jobs.cancel(v.string(o.jobId, 'The job id', 64)) };
    },
  };
}
