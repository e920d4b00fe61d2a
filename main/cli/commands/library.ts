import { AtlasError } from '../../engine/errors';
import { formatBytes } from '../../engine/format';
import { listLibrary } from '../../engine/library/catalog';
import { readDeployments, type DeploymentRecord } from '../../engine/library/deployments';
import { readLibraryFolders } from '../../engine/library/locations';
import type { CliCommand } from '../command';

/** Cards of a folder's deployment record the listing shows (all of them with --json). */
const DEPLOYMENTS_SHOWN = 10;

export const libraryCommand: CliCommand = {
  name: 'library',
  summary: 'List the golden images and clone folders of the build folder and the vault (or of given folders)',
  usage: [
    'Usage: atlas library [folder...] [--json]',
    '',
    'Lists Phase 0 golden images (ods-atlas-golden-vN-P-TAG.img and their sidecar manifests) and Phase 1 clone',
    'folders (golden-clone-TAG/), newest first, with phase, tag, date, size and whether a manifest or checksum file',
    'goes with them, and the lineage: the golden image a clone descends from, the clones of a golden image.',
    'Unfinished copies (*.partial) are listed apart. A folder that holds a deployment record (deployments.jsonl)',
    `shows its newest ${DEPLOYMENTS_SHOWN} cards deployed: when, hostname, card, clone, and how it ended (--json: all).`,
    "Without folders: the build folder and the vault from the app's settings (defaults ~/atlas-build and",
    '/Volumes/NVME_VAULT/golden-atlas-img/).',
  ].join('\n'),
  options: {},
  async run(args, ui) {
    const folders =
      args.positionals.length > 0
        ? args.positionals.map((path, i) => ({ location: `folder${i + 1}`, path }))
        : await readLibraryFolders().then((s) => [
            { location: 'build', path: s.buildFolder },
            { location: 'vault', path: s.vaultFolder },
          ]);
    const listing = await listLibrary(folders);
    const deployments = await Promise.all(
      folders.map((f) =>
        readDeployments(f.path).catch((error: unknown) => {
          // a folder that is not there is said above; a record there that cannot be read is said here
          if (!listing.unavailable.some((u) => u.location === f.location)) {
            ui.warn(`The deployment record in ${f.path} cannot be read: ${(error as Error).message}`);
          }
          return [];
        }),
      ),
    );
    if (args.positionals.length > 0 && listing.unavailable.length === folders.length) {
      throw new AtlasError('NOT_FOUND', listing.unavailable.map((u) => `${u.path}: ${u.reason}`).join('; '));
    }
    const lines: string[] = [];
    for (const { location, path } of folders) {
      const gone = listing.unavailable.find((u) => u.location === location);
      lines.push(`${location}: ${path}${gone ? `  (${gone.reason})` : ''}`);
      if (gone) continue;
      const entries = listing.entries.filter((e) => e.location === location);
      if (entries.length === 0) lines.push('  (no golden images or clone folders)');
      for (const e of entries) {
        const checks = [
          e.hasManifest ? 'manifest' : 'no manifest',
          ...(e.checksumFile ? [e.checksumFile] : []),
        ];
        lines.push(
          `  phase ${e.phase}  ${e.name}${e.kind === 'clone-folder' ? '/' : ''}  tag ${e.tag ?? '-'}  ${e.created.slice(0, 16).replace('T', ' ')}  ${formatBytes(e.size)}  ${e.files.length} files  ${checks.join(', ')}`,
        );
        if (e.parent) lines.push(`    from ${e.parent}${e.unbooted ? ' (never booted: a safety net)' : ''}`);
        if (e.clones) lines.push(`    cloned as ${e.clones.join(', ')}`);
      }
      for (const p of listing.partials.filter((x) => x.location === location)) {
        lines.push(`  unfinished: ${p.name} (an interrupted copy; the next vault sync replaces it)`);
      }
      const records = deployments[folders.findIndex((f) => f.location === location)] ?? [];
      if (records.length > 0) lines.push(...deploymentLines(records));
    }
    ui.result(
      {
        folders,
        ...listing,
        deployments: Object.fromEntries(folders.map((f, i) => [f.location, deployments[i] ?? []])),
      },
      lines,
    );
  },
};

/** The record's newest cards, one line each, as the Library's table shows them. */
function deploymentLines(records: DeploymentRecord[]): string[] {
  const shown = records.slice(0, DEPLOYMENTS_SHOWN);
  return [
    `  deployments: ${records.length} card${records.length === 1 ? '' : 's'}${records.length > shown.length ? `, the newest ${shown.length}` : ''}`,
    ...shown.map((r) => {
      const card = `${r.card.model || r.card.device}${r.card.size === null ? '' : ` ${formatBytes(r.card.size)}`}${r.card.serial ? ` serial ${r.card.serial}` : ''}`;
      const outcome = r.ok
        ? r.verified
          ? 'verified'
          : 'written, not verified'
        : `failed (${r.error ?? 'unknown'})${r.reason ? `: ${r.reason}` : ''}`;
      return `    ${r.time.slice(0, 16).replace('T', ' ')}  ${r.hostname ?? '(exact copy)'}  ${card}  ${r.clone}  ${outcome}`;
    }),
  ];
}
