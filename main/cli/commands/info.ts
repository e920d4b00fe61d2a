import { AtlasError } from '../../engine/errors';
import { formatBytes } from '../../engine/format';
import { openMaybeGzipped } from '../../engine/compress/gunzip';
import {
  BitmapMode,
  checksumModeName,
  readPartcloneInfo,
  verifyPartcloneStream,
} from '../../engine/partclone';
import { ProgressMeter } from '../../engine/progress';
import { flag, type CliCommand } from '../command';

const BITMAP_NAMES: Record<number, string> = {
  [BitmapMode.BIT]: 'BIT',
  [BitmapMode.BYTE]: 'BYTE',
  [BitmapMode.NONE]: 'NONE',
};

export const infoCommand: CliCommand = {
  name: 'info',
  summary: 'Show what a partclone image (.partclone or .partclone.gz) holds; --verify checks every checksum',
  usage: [
    'Usage: atlas info <image> [--verify] [--json]',
    '',
    'Reads the header and bitmap of a partclone image, v1 or v2, gzip-compressed or not (told by its first',
    'bytes), as made by partclone or by atlas clone. With --verify it also reads every block and checks every',
    'checksum, like partclone.chkimg.',
  ].join('\n'),
  options: { verify: { type: 'boolean', default: false } },
  async run(args, ui, signal) {
    const [path] = args.positionals;
    if (!path || args.positionals.length > 1)
      throw new AtlasError('INVALID_ARGUMENT', 'info takes one image file.');
    const info = await readPartcloneInfo(path, { signal });
    const h = info.header;
    let verified = false;
    if (flag(args, 'verify')) {
      const opened = await openMaybeGzipped(path, { signal });
      const meter = new ProgressMeter('verifying', info.imageSize, ui.progress);
      await verifyPartcloneStream(opened.stream, { signal, onBytes: (bytes) => meter.set(bytes) });
      meter.finish();
      verified = true;
    }
    const checksum =
      h.checksumSize === 0
        ? 'none'
        : `${checksumModeName(h.checksumMode)} every ${h.blocksPerChecksum} block${h.blocksPerChecksum === 1 ? '' : 's'}, ${h.reseedChecksum ? 'reseeded' : 'running (not reseeded)'}`;
    ui.result(
      {
        path,
        formatVersion: h.formatVersion,
        partcloneVersion: h.partcloneVersion,
        fsName: h.fsName,
        blockSize: h.blockSize,
        totalBlocks: h.totalBlocks,
        deviceSize: h.deviceSize,
        usedBlocks: info.usedBlocks,
        usedBytes: info.usedBlocks * h.blockSize,
        superblockUsed: h.superblockUsed,
        checksum: checksumModeName(h.checksumMode),
        checksumSize: h.checksumSize,
        blocksPerChecksum: h.blocksPerChecksum,
        reseedChecksum: h.reseedChecksum,
        bitmapMode: BITMAP_NAMES[h.bitmapMode] ?? h.bitmapMode,
        imageSize: info.imageSize,
        compressed: info.compressed,
        fileSize: info.fileSize,
        verified,
      },
      [
        `${path}: partclone image format ${h.formatVersion === 2 ? '0002' : '0001'}${h.partcloneVersion ? `, written by partclone ${h.partcloneVersion}` : ''}`,
        `  filesystem:  ${h.fsName || '(unnamed)'}, ${formatBytes(h.deviceSize)} (${h.totalBlocks} blocks of ${h.blockSize} bytes)`,
        `  in use:      ${formatBytes(info.usedBlocks * h.blockSize)} (${info.usedBlocks} blocks)`,
        `  checksum:    ${checksum}`,
        `  bitmap:      ${BITMAP_NAMES[h.bitmapMode] ?? h.bitmapMode}`,
        `  image:       ${formatBytes(info.imageSize)}${info.compressed ? `, gzip-compressed to ${formatBytes(info.fileSize)}` : ''}`,
        ...(verified ? ['  verified:    every checksum is good'] : []),
      ],
    );
  },
};
