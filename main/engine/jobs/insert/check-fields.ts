/**
 * Insert's inputs checked one by one as a person picks them, every problem at once: the same checks the job
 * makes before it writes (inputs.ts, armbian.ts), each caught and tied to its field instead of stopping at the
 * first. A field left empty is not checked yet; nothing is written. A base inside an archive is recognised by
 * decoding only as much of it as recognition reads (compress/decoded-head.ts), into a temporary file that is
 * deleted after.
 */
import type { Stats } from 'node:fs';
import { basename, resolve } from 'node:path';
import { toAtlasError, type AtlasError } from '../../errors';
import { openImageSource, type SourceFormat } from '../../compress/source';
import { openDecodedHead } from '../../compress/decoded-head';
import { goldenName, isValidTag } from '../../../shared/names';
import type { InsertField, InsertFieldProblem } from '../../../contract';
import { recogniseArmbianBase, type ArmbianInspection } from './armbian';
import {
  checkBase,
  checkFirstboot,
  checkOutput,
  checkService,
  readInput,
  secretsModeWarning,
  type InsertInputs,
} from './inputs';
import { loadProfile, type InsertDestinations } from './profile';

/** What is picked so far: any field may be missing. */
export type InsertFieldsSoFar = Partial<Omit<InsertInputs, 'profile'>>;

export async function checkInsertFields(fields: InsertFieldsSoFar): Promise<InsertFieldProblem[]> {
  const profile = await loadProfile();
  const problems: InsertFieldProblem[] = [];
  const check = async (field: InsertField, run: () => Promise<void>): Promise<void> => {
    try {
      await run();
    } catch (error) {
      const e: AtlasError = toAtlasError(error);
      problems.push({ field, severity: 'error', code: e.code, message: e.message });
    }
  };
  const { base, firstboot, service, secrets, version, patch, tag } = fields;
  await Promise.all([
    base &&
      check('base', async () => {
        const path = resolve(base);
        await recogniseOnce(path, await checkBase(path), profile.destinations);
      }),
    firstboot &&
      check('firstboot', async () => checkFirstboot(await readInput('firstboot script', resolve(firstboot)))),
    service &&
      check('service', async () => {
        checkService(await readInput('service unit', resolve(service)), profile.destinations.firstboot);
      }),
    secrets &&
      check('secrets', async () => {
        const warning = secretsModeWarning(await readInput('secrets file', resolve(secrets)));
        if (warning) problems.push({ field: 'secrets', severity: 'warning', code: null, message: warning });
      }),
    version !== undefined &&
      patch !== undefined &&
      tag !== undefined &&
      isValidTag(tag) &&
      check('output', async () => {
        const outDir = resolve(fields.outDir ?? profile.buildDir);
        await checkOutput(
          outDir,
          goldenName(version, patch, tag),
          base ? resolve(base) : '',
          fields.force === true,
        );
      }),
  ]);
  const order: InsertField[] = ['base', 'firstboot', 'service', 'secrets', 'output'];
  return problems.sort((a, b) => order.indexOf(a.field) - order.indexOf(b.field));
}

/** What recognising a picked base took: the file read in place, or an archive's image decoded in part. */
export interface PickedBase {
  inspection: ArmbianInspection;
  format: SourceFormat;
  /** the image's uncompressed bytes decoded to recognise it (null: a raw image, read in place) */
  decoded: number | null;
  /** the image's size when known (an archive that records it, or a raw file) */
  size: number | null;
}

/**
 * The one recognition rule (armbian.ts) on a base as picked: a raw image in place, an archive through its
 * decoded head. Refusals are the build's own: not an image, not Armbian, already Atlas, a damaged archive.
 */
export async function recognisePickedBase(
  path: string,
  options: { destinations?: InsertDestinations; signal?: AbortSignal | undefined; tempDir?: string } = {},
): Promise<PickedBase> {
  const { destinations, signal } = options;
  const source = await openImageSource(path, { signal });
  const inspect = { name: basename(path), signal, ...(destinations ? { destinations } : {}) };
  if (source.format === 'raw') {
    const inspection = await recogniseArmbianBase(path, inspect);
    return { inspection, format: 'raw', decoded: null, size: source.size };
  }
  const head = await openDecodedHead(source, {
    signal,
    ...(options.tempDir ? { dir: options.tempDir } : {}),
  });
  try {
    const inspection = await recogniseArmbianBase(head.path, { ...inspect, decoding: head });
    return { inspection, format: source.format, decoded: head.decoded, size: source.size };
  } finally {
    await head.close();
  }
}

/**
 * One base recognised at a time: another base asked for cancels the one running (its check answers
 * CANCELLED, which the page drops), while the same file asked again (a keystroke in another field) shares
 * its answer. The file's size and time are in the key, so a changed file is looked at again.
 */
let current: { key: string; controller: AbortController; done: Promise<unknown> } | null = null;

function recogniseOnce(path: string, stat: Stats, destinations: InsertDestinations): Promise<unknown> {
  const key = JSON.stringify([path, stat.dev, stat.ino, stat.size, stat.mtimeMs, destinations]);
  if (current?.key !== key) {
    current?.controller.abort();
    const controller = new AbortController();
    const done = recognisePickedBase(path, { destinations, signal: controller.signal });
    done.catch(() => undefined); // answered through whichever check awaits it
    current = { key, controller, done };
  }
  return current.done;
}
