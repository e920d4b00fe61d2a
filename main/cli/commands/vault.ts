import { AtlasError } from '../../engine/errors';
import { formatBytes } from '../../engine/format';
import { resolve } from 'node:path';
import { withJobLog } from '../../engine/library/job-log';
import { appConfigDir, readLibraryFolders } from '../../engine/library/locations';
import { isRemoteFolderText } from '../../shared/remote-folders';
import { vaultSyncJob, vaultVerifyJob } from '../../engine/jobs/vault';
import { flag, stringOption, type CliCommand } from '../command';

export const vaultCommand: CliCommand = {
  name: 'vault',
  summary:
    'Archive into the vault (sync: copy what it lacks, verified) and check it (verify: re-hash everything)',
  usage: [
    'Usage: atlas vault sync [--from DIR|ssh://[USER@]HOST[:PORT]/PATH] [--to DIR] [--item NAME]... [--dry-run]',
    '                        [--checksum] [--json]',
    '       atlas vault verify [DIR] [--json]',
    '',
    'sync copies the golden images and clone folders of the build folder that the vault lacks. Each is copied as',
    '*.partial, fsynced, read back from the vault and compared by sha256 with its manifest (or with the hash taken',
    'while copying), then renamed into place. Checksums for what no manifest covers are written beside it',
    '(SHA256SUMS in a clone folder, X.sha256 beside a golden image; `sha256sum -c` reads both). An artifact the vault',
    'already holds is skipped when identical (same files, sizes and times; --checksum compares sha256) and is never',
    'overwritten: one with other content stops the sync before anything is copied.',
    '--from ssh://HOST/~/atlas-build pulls from a remote build folder with the system ssh (your ~/.ssh/config,',
    'keys, agent and known_hosts; never a password prompt; an unknown host key is refused). Each file is hashed as',
    'it arrives and compared with its manifest and with sha256sum run on the remote; an interrupted pull resumes',
    'from its *.partial once the partial is proved equal to the start of the remote file. No PATH means',
    '~/atlas-build; /~/x is in the remote home, /x is absolute. ATLAS_SSH_CONFIG=FILE uses FILE as ssh_config.',
    'verify re-reads every artifact of the vault and reports each one ok, damaged or without checksum.',
    "DIR defaults come from the app's settings (~/atlas-build and /Volumes/NVME_VAULT/golden-atlas-img/).",
  ].join('\n'),
  options: {
    from: { type: 'string' },
    to: { type: 'string' },
    item: { type: 'string', multiple: true },
    'dry-run': { type: 'boolean', default: false },
    checksum: { type: 'boolean', default: false },
  },
  async run(args, ui, signal) {
    const [sub, ...rest] = args.positionals;
    const settings = await readLibraryFolders();
    if (sub === 'sync') {
      if (rest.length > 0)
        throw new AtlasError('INVALID_ARGUMENT', 'vault sync takes no positional arguments.');
      const items = Array.isArray(args.values.item)
        ? args.values.item.filter((i) => typeof i === 'string')
        : [];
      const request = {
        from: stringOption(args, 'from') ?? settings.buildFolder,
        to: stringOption(args, 'to') ?? settings.vaultFolder,
        ...(items.length > 0 ? { items } : {}),
        dryRun: flag(args, 'dry-run'),
        checksum: flag(args, 'checksum'),
      };
      // a dry run writes nothing, so it leaves no line
      const result = await withJobLog(
        appConfigDir(),
        () =>
          request.dryRun
            ? null
            : {
                job: 'vault-sync',
                source: isRemoteFolderText(request.from) ? request.from : resolve(request.from),
                cards: [],
                output: resolve(request.to),
              },
        () => vaultSyncJob(request, { signal, onProgress: ui.progress }),
        signal,
      );
      const verb = result.dryRun ? 'would copy' : 'copied';
      ui.result({ ok: true, ...result }, [
        `${result.dryRun ? 'Dry run: ' : ''}${result.from} → ${result.to}`,
        ...result.items.map((i) =>
          i.action === 'identical'
            ? `  identical  ${i.name}`
            : `  ${i.action === 'copied' ? 'copied   ' : 'would copy'} ${i.name}  ${formatBytes(i.bytes)}${i.action === 'copied' ? `  verified (${[...new Set(i.files.map((f) => f.reference))].join(', ')})${i.checksumFile ? `, wrote ${i.checksumFile}` : ''}` : ''}${i.resumedBytes ? `, resumed after ${formatBytes(i.resumedBytes)}` : ''}${i.resumes ? `, ${i.resumes} dropped connection${i.resumes === 1 ? '' : 's'} resumed` : ''}`,
        ),
        `${result.copied} ${verb} (${formatBytes(result.bytes)}), ${result.identical} already in the vault; ${formatBytes(result.freeBytes)} free on the vault before.`,
        // macOS, or a vault filesystem without direct I/O: say what the check could not rule out
        ...(result.items.some((i) => i.files.some((f) => f.readFromDisk === false))
          ? [
              'Read back through the system cache (this system cannot bypass it for files): a fault of the vault disk that the cache hides would not show until the next vault verify after replugging it.',
            ]
          : []),
      ]);
      return;
    }
    if (sub === 'verify') {
      if (rest.length > 1) throw new AtlasError('INVALID_ARGUMENT', 'vault verify takes at most one folder.');
      const result = await vaultVerifyJob(
        { folder: rest[0] ?? settings.vaultFolder },
        { signal, onProgress: ui.progress },
      );
      ui.result({ ...result }, [
        `${result.folder}:`,
        ...result.artifacts.map((a) => `  ${a.status.padEnd(11)} ${a.name}: ${a.message}`),
        ...result.partials.map(
          (p) => `  unfinished ${p} (an interrupted copy; the next vault sync replaces it)`,
        ),
        result.ok
          ? `OK: ${result.artifacts.length - result.unchecked} verified, ${result.unchecked} without checksum.`
          : `${result.damaged} damaged.`,
      ]);
      if (!result.ok) {
        const names = result.artifacts.filter((a) => a.status === 'damaged').map((a) => a.name);
        throw new AtlasError('CHECKSUM_MISMATCH', `Damaged in the vault: ${names.join(', ')}.`, {
          damaged: names,
        });
      }
      return;
    }
    throw new AtlasError(
      'INVALID_ARGUMENT',
      sub ? `Unknown vault command "${sub}": use sync or verify.` : 'Say sync or verify.',
    );
  },
};
