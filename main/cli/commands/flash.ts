import { AtlasError } from '../../engine/errors';
import { formatBytes, formatDuration } from '../../engine/format';
import { openImageSource } from '../../engine/compress/source';
import { assertTarget, findDrive, listDrives, type Drive } from '../../engine/drives/index';
import { resolve } from 'node:path';
import type { FlashOptions, FlashResult } from '../../engine/jobs/flash';
import { runInHelper } from '../../helper/launch';
import { withJobLog } from '../../engine/library/job-log';
import { appConfigDir } from '../../engine/library/locations';
import { recordedCard } from '../describe';
import { flag, type CliCommand } from '../command';
import { describe } from './drives';

export const flashCommand: CliCommand = {
  name: 'flash',
  summary:
    'Write an image (.img, .gz, .xz, .zip, .zst) to one or several cards and verify it by reading back',
  usage: [
    'Usage: atlas flash <image> <target...> [--used-only] [--no-verify] [--no-eject] [--yes] [--json]',
    '',
    'Writes the image to every target from one read of the source, the partition table last, then reads each',
    'card back from the device and compares. Targets are whole removable drives as `atlas drives` lists them.',
    '  --used-only  write only what the filesystems use (raw .img): faster, but the free space on the card keeps',
    '               its old data',
    '  --no-verify  skip the read-back (a bad card or reader then goes unnoticed)',
    '  --no-eject   leave the cards attached at the end',
    '  --yes        do not ask (required without a terminal)',
    'The cards are checked and opened by an administrator helper (pkexec on Linux, the macOS password dialog;',
    'directly under sudo); the image is read as you.',
  ].join('\n'),
  options: {
    'used-only': { type: 'boolean', default: false },
    'no-verify': { type: 'boolean', default: false },
    'no-eject': { type: 'boolean', default: false },
    yes: { type: 'boolean', short: 'y', default: false },
  },
  async run(args, ui, signal) {
    const [image, ...devices] = args.positionals;
    if (!image || devices.length === 0) {
      throw new AtlasError('INVALID_ARGUMENT', 'flash takes an image and at least one target drive.');
    }
    const source = await openImageSource(image, { signal });
    const imageSize = source.size;
    const drives = await listDrives({ sourcePath: image });
    const chosen: Drive[] = [];
    const warnings: string[] = [];
    for (const device of devices) {
      const drive = findDrive(drives, device);
      if (!drive) {
        throw new AtlasError(
          'NOT_FOUND',
          `${device} is not a drive on this machine. Run "atlas drives --all" to see them.`,
          {
            device,
          },
        );
      }
      warnings.push(...assertTarget(drive, { imageSize }).map((r) => r.message));
      chosen.push(drive);
    }
    const sizeText =
      imageSize !== null
        ? formatBytes(imageSize)
        : `about ${formatBytes(source.estimate ?? source.fileSize)}`;
    ui.info(`Image: ${image} (${source.format}, ${sizeText})`);
    for (const d of chosen) for (const line of describe(d)) ui.info(`Target: ${line}`);
    for (const w of warnings) ui.warn(w);
    const verify = !flag(args, 'no-verify');
    if (!verify)
      ui.warn('--no-verify: the cards will not be read back, so a faulty card or reader goes unnoticed.');
    const usedBlocksOnly = flag(args, 'used-only');
    if (usedBlocksOnly)
      ui.warn(
        '--used-only: only the blocks the filesystems use are written; the free space on the cards keeps its old data.',
      );
    await ui.confirm(
      `Everything on ${chosen.map((d) => `${d.device} (${d.description}, ${formatBytes(d.size ?? 0)})`).join(', ')} will be erased.`,
      flag(args, 'yes'),
    );
    const options: Omit<FlashOptions, 'access'> = {
      source: image,
      targets: chosen.map((d) => ({
        device: d.device,
        confirmed: { size: d.size ?? 0, ...(d.serial ? { serial: d.serial } : {}) },
      })),
      verify,
      eject: !flag(args, 'no-eject'),
      ...(usedBlocksOnly ? { usedBlocksOnly } : {}),
    };
    const control = { signal, onProgress: ui.progress };
    // through the broker also as root: the rules are checked again right before each card is opened
    const cards = await Promise.all(chosen.map((d) => recordedCard(d.device, d.device, d)));
    const result = await withJobLog(
      appConfigDir(),
      (value: FlashResult | null) => ({
        job: 'flash',
        source: resolve(image),
        cards,
        ...(value ? { written: value.targets } : {}),
      }),
      () =>
        runInHelper<FlashResult>('flash', { ...options, source: resolve(image) }, control, {
          name: 'Atlas Imager',
        }),
      signal,
    );
    ui.result({ ...result }, [
      ...result.targets.map((t) =>
        t.ok
          ? `${t.device}: written${t.verified ? ' and verified' : ' (not verified)'}${t.ejected ? ', ejected' : ''}`
          : `${t.device}: FAILED: ${t.error?.message ?? 'unknown error'}`,
      ),
      ...(result.usedBlocksOnly
        ? [
            `used blocks only: ${formatBytes(result.usedBlocksOnly.bytesWritten)} of ${formatBytes(result.usedBlocksOnly.imageBytes)} written`,
          ]
        : []),
      `${formatBytes(result.imageSize)} in ${formatDuration(result.writeSeconds)}` +
        (result.verifySeconds > 0 ? `, verified in ${formatDuration(result.verifySeconds)}` : ''),
      ...result.targets.flatMap((t) => t.warnings.map((w) => `warning: ${w}`)),
    ]);
    if (!result.ok) {
      const failed = result.targets.filter((t) => !t.ok);
      throw new AtlasError('IO_ERROR', `${failed.length} of ${result.targets.length} cards failed.`, {
        failed,
      });
    }
  },
};
