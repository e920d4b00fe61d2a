import { verifyCloneFolder } from '../../engine/jobs/verify';
import { AtlasError } from '../../engine/errors';
import { formatBytes } from '../../engine/format';
import type { CliCommand } from '../command';

export const verifyCommand: CliCommand = {
  name: 'verify',
  summary: 'Check a clone folder without a card: manifest hashes, the dump, every partclone checksum',
  usage: [
    'Usage: atlas verify <clone-folder> [--json]',
    '',
    'Checks each file against atlas-manifest.json (size and sha256; folders made by the shell commands have no',
    'manifest), parses partition-table.dump, and reads every partclone image checking all its checksums.',
  ].join('\n'),
  options: {},
  async run(args, ui, signal) {
    const [folder] = args.positionals;
    if (!folder || args.positionals.length > 1)
      throw new AtlasError('INVALID_ARGUMENT', 'verify takes one clone folder.');
    const result = await verifyCloneFolder(folder, { signal, onProgress: ui.progress });
    ui.result({ ok: true, ...result }, [
      `OK: ${folder}`,
      result.manifest
        ? `  manifest: phase ${result.manifest.phase}, tag ${result.manifest.tag}, ${result.manifest.files.length} files match their sha256`
        : '  no atlas-manifest.json (made by the shell commands): partclone checksums only',
      `  partition table: ${result.table.label}, ${result.table.partitions.length} partitions`,
      ...result.images.map(
        (i) =>
          `  ${i.file}: ${i.filesystem}, ${formatBytes(i.usedBlocks * i.blockSize)} in use, every checksum good`,
      ),
    ]);
  },
};
