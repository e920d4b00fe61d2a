import { AtlasError } from '../../engine/errors';
import { formatBytes } from '../../engine/format';
import { listDrives, targetReasons, type Drive } from '../../engine/drives/index';
import { flag, type CliCommand } from '../command';

export const drivesCommand: CliCommand = {
  name: 'drives',
  summary:
    'List the cards that can be written (--all: every drive, with the reasons the others are not offered)',
  usage: [
    'Usage: atlas drives [--all] [--json]',
    '',
    'Lists removable drives that are safe targets: not the system disk, not virtual, not read-only, with a',
    'known size. Drives over 128 GB are marked: writing them needs an extra confirmation. With --all every',
    'drive is listed with why it is not offered.',
  ].join('\n'),
  options: { all: { type: 'boolean', default: false } },
  async run(args, ui) {
    if (args.positionals.length > 0) throw new AtlasError('INVALID_ARGUMENT', 'drives takes no arguments.');
    const all = flag(args, 'all');
    const drives = (await listDrives()).map((drive) => ({ drive, reasons: targetReasons(drive) }));
    const shown = all ? drives : drives.filter((d) => d.reasons.every((r) => r.level !== 'error'));
    const hidden = drives.length - shown.length;
    ui.result({ drives: shown.map((d) => ({ ...d.drive, reasons: d.reasons })), hidden }, [
      ...(shown.length === 0 ? ['No card found. Insert an SD card (in a reader) and run this again.'] : []),
      ...shown.flatMap((d) =>
        describe(
          d.drive,
          d.reasons.map((r) => `${r.level}: ${r.message}`),
        ),
      ),
      ...(hidden > 0
        ? [`(${hidden} more drive${hidden === 1 ? '' : 's'} not offered; --all lists them)`]
        : []),
    ]);
  },
};

export function describe(d: Drive, notes: string[] = []): string[] {
  const size = d.size === null ? 'no size' : formatBytes(d.size);
  const serial = d.serial ? `  serial ${d.serial}` : '';
  const mounted = d.mountpoints.length > 0 ? `  mounted at ${d.mountpoints.join(', ')}` : '';
  return [
    `${d.device}  ${size}  ${d.bus}  ${d.description}${serial}${mounted}`,
    ...notes.map((n) => `    ${n}`),
  ];
}
