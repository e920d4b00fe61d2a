/**
 * Insert's inputs checked one by one as a person picks them, every problem at once: the same checks the job
 * makes before it writes (inputs.ts, armbian.ts), each caught and tied to its field instead of stopping at the
 * first. A field left empty is not checked yet; nothing is written.
 */
import { promises as fsp } from 'node:fs';
import { basename, resolve } from 'node:path';
import { isAtlasError, toAtlasError, type AtlasError } from '../../errors';
import { detectFormat } from '../../compress/source';
import { goldenName, isValidTag } from '../../../shared/names';
import type { InsertField, InsertFieldProblem } from '../../../contract';
import { recogniseArmbianBase } from './armbian';
import {
  checkBase,
  checkFirstboot,
  checkOutput,
  checkService,
  readInput,
  secretsModeWarning,
  type InsertInputs,
} from './inputs';
import { loadProfile } from './profile';

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
        await checkBase(path);
        // a raw image is recognised in place (read-only); an archive is recognised once unpacked, at Build
        if (await isRawImage(path)) {
          await recogniseArmbianBase(path, { destinations: profile.destinations });
        }
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

async function isRawImage(path: string): Promise<boolean> {
  const handle = await fsp.open(path, 'r');
  try {
    const head = Buffer.alloc(4096);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    return detectFormat(head.subarray(0, bytesRead), basename(path)) === 'raw';
  } catch (error) {
    if (isAtlasError(error)) throw error;
    return false;
  } finally {
    await handle.close();
  }
}
