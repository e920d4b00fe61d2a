import { AtlasError } from '../../engine/errors';
import { formatBytes, formatDuration } from '../../engine/format';
import { assertTarget, findDrive, listDrives } from '../../engine/drives/index';
import type { CheckCardResult } from '../../engine/jobs/check-card';
import { runInHelper } from '../../helper/launch';
import { flag, type CliCommand } from '../command';
import { describe } from './drives';

export const checkCardCommand: CliCommand = {
  name: 'check-card',
  summary: 'Check that a card holds what it claims (finds fake-capacity cards in seconds)',
  usage: [
    'Usage: atlas check-card <card> [--yes] [--json]',
    '',
    'Writes a few KiB of markers at places spread over the capacity the card claims, reads them back with the',
    "cache bypassed, and puts the card's own bytes back: a fake card, which wraps writes past its real size onto",
    'its start, is found with its probable real size. The card keeps its data, unless it is pulled out during',
    'the check (then those places may keep a marker).',
    '  --yes  do not ask (required without a terminal)',
  ].join('\n'),
  options: { yes: { type: 'boolean', short: 'y', default: false } },
  async run(args, ui, signal) {
    const [device, ...rest] = args.positionals;
    if (!device || rest.length > 0) throw new AtlasError('INVALID_ARGUMENT', 'check-card takes one card.');
    const drive = findDrive(await listDrives(), device);
    if (!drive) {
      throw new AtlasError(
        'NOT_FOUND',
        `${device} is not a drive on this machine. Run "atlas drives --all" to see them.`,
        {
          device,
        },
      );
    }
    const warnings = assertTarget(drive, {}).map((r) => r.message);
    for (const line of describe(drive)) ui.info(`Card: ${line}`);
    for (const w of warnings) ui.warn(w);
    await ui.confirm(
      `A few places on ${drive.device} (${drive.description}) are written and then restored.`,
      flag(args, 'yes'),
    );
    const result = await runInHelper<CheckCardResult>(
      'check-card',
      {
        device: drive.device,
        confirmed: { size: drive.size ?? 0, ...(drive.serial ? { serial: drive.serial } : {}) },
      },
      { signal, onProgress: ui.progress },
      { name: 'Atlas Imager' },
    );
    const verdict =
      result.verdict === 'genuine'
        ? `${drive.device} holds the ${formatBytes(result.claimedBytes)} it claims (${result.probes} places checked).`
        : `${drive.device} is a FAKE card: it claims ${formatBytes(result.claimedBytes)} but holds at most ` +
          `${formatBytes(result.realBytesAtMost ?? 0)}${result.wrapsAt ? ' (writes past that land back at its start)' : ''}. ` +
          'Do not use it: it will lose data.';
    ui.result({ ...result }, [
      verdict,
      result.restored
        ? `its own bytes were put back; checked in ${formatDuration(result.seconds)}`
        : 'warning: the bytes of the places checked could not all be put back',
    ]);
    if (result.verdict === 'fake') {
      throw new AtlasError('FAKE_CAPACITY', verdict, {
        device: drive.device,
        claimedBytes: result.claimedBytes,
        realBytes: result.realBytesAtMost,
      });
    }
  },
};
