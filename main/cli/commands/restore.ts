import { restoreJob } from '../../engine/jobs/restore';
import { localCardAccess } from '../../engine/drives/index';
import { AtlasError } from '../../engine/errors';
import { formatBytes } from '../../engine/format';
import { flag, stringOption, type CliCommand } from '../command';
import { describeTarget } from '../describe';

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
    "  --unmount          unmount the target's mounted partitions instead of refusing",
    '  --image-size N     size in bytes of a new image-file target (default: just what the clone needs);',
    '                     an existing image file keeps its size, like a card',
    '  --yes              do not ask for confirmation (required without a terminal)',
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
    await ui.confirm(
      `Everything on ${await describeTarget(target)} will be replaced by ${folder}.`,
      flag(args, 'yes'),
    );
    const result = await restoreJob(
      {
        folder,
        target,
        grow: !flag(args, 'no-grow'),
        access: localCardAccess({ unmount: flag(args, 'unmount') }),
        ...(imageSize !== undefined ? { imageSize } : {}),
      },
      { signal, onProgress: ui.progress },
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
