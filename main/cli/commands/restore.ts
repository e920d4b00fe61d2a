import { resolve } from 'node:path';
import {
  MAX_RESTORE_TARGETS,
  restoreJob,
  type RestoreIntent,
  type RestoreResult,
  type RestoreTargetSpec,
} from '../../engine/jobs/restore';
import { assertTarget, localCardAccess, type Drive } from '../../engine/drives/index';
import { runInHelper } from '../../helper/launch';
import { AtlasError } from '../../engine/errors';
import { formatBytes } from '../../engine/format';
import {
  appendDeployments,
  deploymentRecords,
  failedRestoreSource,
  readGivenHostnames,
  type DeploymentSource,
} from '../../engine/library/deployments';
import { withJobLog, type LoggedCard } from '../../engine/library/job-log';
import { appConfigDir, readLibraryFolders } from '../../engine/library/locations';
import { givenBefore, hostnamesFor } from '../../shared/hostnames';
import {
  DEFAULT_HOSTNAME_PATTERN,
  defaultIntent,
  INTENT_NAMES,
  INTENT_SENTENCES,
} from '../../shared/restore-intents';
import { flag, optionHelp, stringOption, withFlagHint, type CliCommand } from '../command';
import { cardAt, confirmedOf, describeTarget, recordedCard } from '../describe';

export const restoreCommand: CliCommand = {
  name: 'restore',
  summary:
    `Restore a golden-clone folder onto one or several cards: ${INTENT_NAMES.exact.toLowerCase()} (--exact) or ` +
    `${INTENT_NAMES.deploy.toLowerCase()} (--deploy)`,
  usage: [
    'Usage: atlas restore <clone-folder> <card...> [--exact | --deploy [--hostname PATTERN]] [--no-grow] [--no-eject]',
    '                     [--unmount] [--image-size BYTES] [--yes] [--json]',
    '',
    `Writes the partition table and every partition of <clone-folder> onto each card (up to ${MAX_RESTORE_TARGETS}) from one`,
    'read of the folder, reads every card back, then grows root to fill each card. Hashes and headers are',
    'checked before anything is written. A card that fails is reported and the others go on.',
    'A card is a whole card (/dev/sdc) or a disk image file (created when missing).',
    '',
    ...optionHelp('--exact', `${INTENT_NAMES.exact} (the default for one card). ${INTENT_SENTENCES.exact}`),
    ...optionHelp(
      '--deploy',
      `${INTENT_NAMES.deploy} (the default for several cards). ${INTENT_SENTENCES.deploy}`,
    ),
    '  --hostname P       the hostnames of a deploy (default ' +
      DEFAULT_HOSTNAME_PATTERN +
      '): {n} numbers the cards on',
    '                     from the highest the pattern gave before (the deployment record), {n:03} pads it,',
    '                     {serial} is the card serial',
    '  --no-grow          keep the partition sizes of the clone',
    '  --no-eject         leave the cards attached at the end',
    "  --unmount          unmount the image file's mounted partitions instead of refusing (a card's are",
    '                     always unmounted once you confirm, as in the app)',
    '  --image-size N     size in bytes of a new image-file target (default: just what the clone needs)',
    '  --yes              do not ask for confirmation (required without a terminal)',
    '',
    "Each card is recorded in deployments.jsonl in the app's build folder (default ~/atlas-build), which the",
    'Library and `atlas library` show.',
    'Cards are written by the same administrator helper as in the app (started with pkexec or the macOS',
    'password dialog, or directly under sudo), with the same rules: whole, removable, not the system disk, and',
    'still the card you confirmed. The clone folder is read as you. Image files need no administrator.',
  ].join('\n'),
  options: {
    exact: { type: 'boolean', default: false },
    deploy: { type: 'boolean', default: false },
    hostname: { type: 'string' },
    'no-grow': { type: 'boolean', default: false },
    'no-eject': { type: 'boolean', default: false },
    unmount: { type: 'boolean', default: false },
    'image-size': { type: 'string' },
    yes: { type: 'boolean', short: 'y', default: false },
  },
  async run(args, ui, signal) {
    const [folder, ...paths] = args.positionals;
    if (!folder || paths.length === 0) {
      throw new AtlasError('INVALID_ARGUMENT', 'restore takes a clone folder and at least one card.');
    }
    const intent = intentOf(args.values.exact === true, args.values.deploy === true, paths.length);
    const typed = stringOption(args, 'hostname');
    if (intent === 'exact' && typed !== undefined) {
      throw new AtlasError(
        'INVALID_ARGUMENT',
        '--hostname names the cards of a deploy; an exact restore keeps the clone’s.',
      );
    }
    const sizeText = stringOption(args, 'image-size');
    const imageSize = sizeText === undefined ? undefined : Number(sizeText);
    if (imageSize !== undefined && (!Number.isSafeInteger(imageSize) || imageSize <= 0)) {
      throw new AtlasError('INVALID_ARGUMENT', '--image-size takes a size in bytes.');
    }
    const drives: Array<Drive | null> = [];
    for (const p of paths) drives.push(await cardAt(p));
    const cards = drives.filter((d): d is Drive => d !== null);
    if (cards.length > 0 && cards.length < paths.length) {
      throw new AtlasError('INVALID_ARGUMENT', 'Restore onto cards or onto image files, not both at once.');
    }
    // the record goes to the build folder the app shows (its settings), as the app's deploys do
    const { buildFolder } = await readLibraryFolders();
    let hostnames: string[] | null = null;
    if (intent === 'deploy') {
      const pattern = typed ?? DEFAULT_HOSTNAME_PATTERN;
      const serials = drives.map((d) => d?.serial ?? null);
      const given = await readGivenHostnames(buildFolder);
      try {
        hostnames = hostnamesFor(pattern, serials, given);
      } catch (error) {
        throw new AtlasError('INVALID_ARGUMENT', (error as Error).message);
      }
      if (typed === undefined)
        ui.info(`Hostnames from the pattern ${pattern} (--hostname to choose another).`);
      for (const note of givenBefore(hostnames, serials, given)) ui.warn(note);
    }
    // the rules first, so nothing is asked about a disk that will not be written
    for (const card of cards) for (const w of assertTarget(card)) ui.warn(w.message);
    const described = await Promise.all(paths.map((p, i) => describeTarget(p, drives[i] ?? null)));
    for (const [i, d] of described.entries()) {
      ui.info(`Card ${i + 1}: ${d}${hostnames ? ` → hostname ${hostnames[i]}` : ''}`);
    }
    await ui.confirm(
      `Everything on ${described.join(', ')} will be replaced by ${folder}. ` +
        `${INTENT_NAMES[intent]}: ${INTENT_SENTENCES[intent]}`,
      flag(args, 'yes'),
    );
    const control = { signal, onProgress: ui.progress };
    const grow = !flag(args, 'no-grow');
    const eject = !flag(args, 'no-eject');
    const targets: RestoreTargetSpec[] = paths.map((p, i) => ({
      device: drives[i]?.device ?? p,
      ...(drives[i] ? { confirmed: confirmedOf(drives[i]!) } : {}),
      ...(hostnames ? { hostname: hostnames[i]! } : {}),
    }));
    // after the job: an image file it created has its size by then
    const recorded = (): Promise<LoggedCard[]> =>
      Promise.all(paths.map((p, i) => recordedCard(targets[i]!.device, p, drives[i] ?? null)));
    const run = (): Promise<RestoreResult> =>
      cards.length > 0
        ? runInHelper<RestoreResult>(
            'restore',
            { folder: resolve(folder), targets, intent, grow, eject },
            control,
            { name: 'Atlas Imager' },
          )
        : withFlagHint(
            restoreJob(
              {
                folder,
                targets,
                intent,
                grow,
                eject,
                access: localCardAccess({ unmount: flag(args, 'unmount') }),
                ...(imageSize !== undefined ? { imageSize } : {}),
              },
              control,
            ),
            ['TARGET_MOUNTED'],
            '--unmount unmounts them.',
          );
    const record = async (source: DeploymentSource): Promise<void> =>
      appendDeployments(buildFolder, deploymentRecords(source, await recorded(), new Date())).catch(
        (error: unknown) =>
          ui.warn(
            `The deployment record could not be written to ${buildFolder}: ${(error as Error).message}`,
          ),
      );
    let result: RestoreResult;
    try {
      result = await withJobLog(
        appConfigDir(),
        async (value) => ({
          job: 'restore',
          source: resolve(folder),
          cards: await recorded(),
          ...(value ? { written: value.targets } : {}),
        }),
        run,
        signal,
      );
    } catch (error) {
      // every card failed: each is recorded as failed (nothing is when the job stopped before any card)
      const failed = await failedRestoreSource(error, {
        folder: resolve(folder),
        intent,
        targets: targets.map((t) => ({ device: t.device, hostname: t.hostname ?? null })),
      });
      if (failed) await record(failed);
      throw error;
    }
    await record(result);
    ui.result({ ...result }, [
      `${intent === 'deploy' ? 'Deployed' : 'Restored'} ${folder}${result.manifestChecked ? ' (manifest hashes checked)' : ''}`,
      ...result.partitions.map(
        (p) => `  partition ${p.number} from ${p.file}: ${formatBytes(p.usedBlocks * p.blockSize)}`,
      ),
      ...result.targets.flatMap((t) =>
        t.ok
          ? [
              `${t.device}: restored${t.verified ? ' and verified' : ' (not verified)'}${t.hostname ? `, hostname ${t.hostname}` : ''}${t.ejected ? ', ejected' : ''}`,
              `  ${t.growMessage}`,
              ...t.identityChanges.map((c) => `  ${c}`),
            ]
          : [`${t.device}: FAILED: ${t.error?.message ?? 'unknown error'}`],
      ),
    ]);
    if (!result.ok) {
      const failed = result.targets.filter((t) => !t.ok);
      throw new AtlasError('IO_ERROR', `${failed.length} of ${result.targets.length} cards failed.`, {
        failed,
      });
    }
  },
};

/** The intent asked for, else the app's default for that many cards. */
function intentOf(exact: boolean, deploy: boolean, count: number): RestoreIntent {
  if (exact && deploy) throw new AtlasError('INVALID_ARGUMENT', 'Choose --exact or --deploy, not both.');
  if (exact) return 'exact';
  if (deploy) return 'deploy';
  return defaultIntent(count);
}
