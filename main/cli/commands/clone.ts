import { resolve } from 'node:path';
import { cloneJob, type CloneResult } from '../../engine/jobs/clone';
import { localCardAccess } from '../../engine/drives/index';
import { runInHelper } from '../../helper/launch';
import { withJobLog } from '../../engine/library/job-log';
import { appConfigDir } from '../../engine/library/locations';
import { AtlasError } from '../../engine/errors';
import { formatBytes } from '../../engine/format';
import { flag, stringOption, withFlagHint, type CliCommand } from '../command';
import { cardAt, confirmedOf, recordedCard } from '../describe';

export const cloneCommand: CliCommand = {
  name: 'clone',
  summary:
    'Phase 1: clone a card (or disk image) to golden-clone-TAG/ (partclone + gzip, restorable by restore_golden.sh)',
  usage: [
    'Usage: atlas clone <source> <build-folder> --tag TAG [--unmount] [--level N] [--allow-unbooted] [--json]',
    '',
    'Clones every partition of <source> (a whole card such as /dev/sdc or /dev/disk4, or a disk image file) into',
    '<build-folder>/golden-clone-TAG/: partition-table.dump, <dev>N-boot|root.partclone.gz, restore_golden.sh and',
    'atlas-manifest.json. The source is only read. The folder appears only once it is complete.',
    '',
    '  --tag TAG     names the clone, e.g. v8-1-0-FEATURE (required)',
    "  --unmount     unmount the source's mounted partitions instead of refusing",
    '  --level N     gzip level 1-9 (default 6, as pigz)',
    '  --allow-unbooted',
    '                clone even a card whose Atlas first boot has not run (a golden image flashed and never',
    '                booted), as a safety net; the manifest records it. Without it such a card is refused:',
    '                Insert creates Phase 0, Clone creates Phase 1.',
    '',
    'The manifest records the Phase 0 golden image the card descends from (its /etc/atlas/golden-release), or',
    'that the lineage is unknown (a card Insert never made).',
    '',
    'A card is read by the same administrator helper as in the app (started with pkexec or the macOS password',
    'dialog, or directly under sudo), which refuses the system disk and the disk holding Atlas Imager; the',
    'folder is written as you (under sudo: as the person who typed it). An image file needs no administrator.',
  ].join('\n'),
  options: {
    tag: { type: 'string' },
    unmount: { type: 'boolean', default: false },
    level: { type: 'string' },
    'allow-unbooted': { type: 'boolean', default: false },
  },
  async run(args, ui, signal) {
    const [source, outDir] = args.positionals;
    const tag = stringOption(args, 'tag');
    if (!source || !outDir || args.positionals.length > 2) {
      throw new AtlasError('INVALID_ARGUMENT', 'clone takes a source and a build folder.');
    }
    if (!tag) throw new AtlasError('INVALID_ARGUMENT', 'clone needs --tag TAG.');
    const level = Number(stringOption(args, 'level') ?? 6);
    if (!Number.isInteger(level) || level < 1 || level > 9) {
      throw new AtlasError('INVALID_ARGUMENT', '--level takes a whole number from 1 to 9.');
    }
    const control = { signal, onProgress: ui.progress };
    const allowUnbooted = flag(args, 'allow-unbooted');
    const card = await cardAt(source);
    const run = (): Promise<CloneResult> =>
      card
        ? runInHelper<CloneResult>(
            'clone',
            {
              source: card.device,
              confirmed: confirmedOf(card),
              outDir: resolve(outDir),
              tag,
              unmount: flag(args, 'unmount'),
              level,
              allowUnbooted,
            },
            control,
            { name: 'Atlas Imager' },
          )
        : cloneJob(
            {
              source,
              outDir,
              tag,
              level,
              allowUnbooted,
              access: localCardAccess({ unmount: flag(args, 'unmount') }),
            },
            control,
          );
    const from = card?.device ?? resolve(source);
    const logged = withJobLog(
      appConfigDir(),
      async (value: CloneResult | null) => ({
        job: 'clone',
        source: from,
        cards: [await recordedCard(from, source, card)],
        ...(value ? { output: resolve(value.folder) } : {}),
      }),
      run,
      signal,
    );
    // the engine speaks for the app; on the command line, the overrides are flags
    const result = await withFlagHint(
      withFlagHint(logged, ['SOURCE_MOUNTED'], '--unmount unmounts them.'),
      ['PHASE_RULE'],
      '--allow-unbooted clones it anyway, as a safety net.',
    );
    const m = result.manifest;
    const lineage = m.lineage;
    ui.result({ folder: result.folder, manifest: m }, [
      `Cloned ${source} to ${result.folder}`,
      ...m.partitions.map(
        (p) =>
          `  ${p.file}: ${p.filesystem}, ${formatBytes(p.usedBlocks * p.blockSize)} used of ${formatBytes(p.totalBlocks * p.blockSize)}`,
      ),
      lineage?.parent
        ? `  Descends from ${lineage.parent.image}${lineage.allowedUnbooted ? ' (never booted: cloned anyway, as a safety net)' : ''}`
        : '  Lineage unknown: the card has no /etc/atlas/golden-release (not made by Insert)',
      `  ${m.files.length} files, ${formatBytes(m.files.reduce((s, f) => s + f.size, 0))} in all; restore with: atlas restore ${result.folder} /dev/sdX`,
    ]);
  },
};
