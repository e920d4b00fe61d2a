import { resolve } from 'node:path';
import { restoreJob, type RestoreResult } from '../../engine/jobs/restore';
import { assertTarget, localCardAccess } from '../../engine/drives/index';
import { runInHelper } from '../../helper/launch';
import { AtlasError } from '../../engine/errors';
import { formatBytes } from '../../engine/format';
import { flag, stringOption, withFlagHint, type CliCommand } from '../command';
import { cardAt, confirmedOf, describeTarget } from '../describe';

export const restoreCommand: CliCommand = {
  name: 'restore',
  summary:
    'Restore a golden-clone folder (ours, or made by partclone + pigz) onto a card; grows root to fill it',
  usage: [
    'Usage: atlas restore <clone-folder> <target> [--no-grow] [--unmount] [--image-size BYTES] [--yes] [--json]',
    '',
    'Writes the partition table and every partition of <clone-folder> to <target>, a whole card (/dev/sdc) or a',
    'disk image file (created when missing). Hashes and headers are checked before anything is written.',
    'The last partition and its ext4 then grow to fill the card (resize2fs on Linux; on macOS Armbian grows the',
    'filesystem at first boot).',
    '',
    '  --no-grow          keep the partition sizes of the clone',
    "  --unmount          unmount the image file's mounted partitions instead of refusing (a card's are",
    '                     always unmounted once you confirm, as in the app)',
    '  --image-size N     size in bytes of a new image-file target (default: just what the clone needs);',
    '                     an existing image file keeps its size, like a card',
    '  --yes              do not ask for confirmation (required without a terminal)',
    '',
    'A card is written by the same administrator helper as in the app (started with pkexec or the macOS',
    'password dialog, or directly under sudo), with the same rules: whole, removable, not the system disk, and',
    'still the card you confirmed. The clone folder is read as you. An image file needs no administrator.',
  ].join('\n'),
  options: {
    'no-grow': { type: 'boolean', default: false },
    unmount: { type: 'boolean', default: false },
    'image-size': { type: 'string' },
    yes: { type: 'boolean', short: 'y', default: false },
  },
  async run(args, ui, signal) {
    const [folder, target] = args.positionals;
    if (!folder || !target || args.positionals.length > 2) {
      throw new AtlasError('INVALID_ARGUMENT', 'restore takes a clone folder and a target.');
    }
    const sizeText = stringOption(args, 'image-size');
    const imageSize = sizeText === undefined ? undefined : Number(sizeText);
    if (imageSize !== undefined && (!Number.isSafeInteger(imageSize) || imageSize <= 0)) {
      throw new AtlasError('INVALID_ARGUMENT', '--image-size takes a size in bytes.');
    }
    const card = await cardAt(target);
    // the rules first, so nothing is asked about a disk that will not be written
    if (card) for (const w of assertTarget(card)) ui.warn(w.message);
    await ui.confirm(
      `Everything on ${await describeTarget(target, card)} will be replaced by ${folder}.`,
      flag(args, 'yes'),
    );
    const control = { signal, onProgress: ui.progress };
    const grow = !flag(args, 'no-grow');
    const result = card
      ? await runInHelper<RestoreResult>(
          'restore',
          { folder: resolve(folder), target: card.device, confirmed: confirmedOf(card), grow },
          control,
          { name: 'Atlas Imager' },
        )
      : await withFlagHint(
          restoreJob(
            {
              folder,
              target,
              grow,
              access: localCardAccess({ unmount: flag(args, 'unmount') }),
              ...(imageSize !== undefined ? { imageSize } : {}),
            },
            control,
          ),
          ['TARGET_MOUNTED'],
          '--unmount unmounts them.',
        );
    ui.result({ ...result }, [
      `Restored ${folder} to ${target}${result.manifestChecked ? ' (manifest hashes checked)' : ''}`,
      ...result.partitions.map(
        (p) => `  partition ${p.number} from ${p.file}: ${formatBytes(p.usedBlocks * p.blockSize)}`,
      ),
      `  ${result.growMessage}`,
    ]);
  },
};
