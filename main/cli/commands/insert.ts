import { resolve } from 'node:path';
import { insertJob, type InsertResult } from '../../engine/jobs/insert';
import { withJobLog } from '../../engine/library/job-log';
import { appConfigDir } from '../../engine/library/locations';
import { AtlasError, isAtlasError } from '../../engine/errors';
import { formatBytes, formatDuration } from '../../engine/format';
import { GOLDEN_NUMBER_MAX, parseGoldenNumber } from '../../shared/names';
import { flag, stringOption, type CliCommand } from '../command';

/** `--version N-P` (a leading v accepted: v8-1): the CLI's way of writing the golden version and patch. */
export function parseVersionOption(text: string): { version: number; patch: number } {
  const m = /^v?(\d+)-(\d+)$/.exec(text.trim());
  const version = m ? parseGoldenNumber(m[1]!) : null;
  const patch = m ? parseGoldenNumber(m[2]!) : null;
  if (version === null || patch === null) {
    throw new AtlasError(
      'INVALID_ARGUMENT',
      `--version "${text}" is not N-P (version and patch, whole numbers up to ${GOLDEN_NUMBER_MAX}: 8-1 for ods-atlas-golden-v8-1-TAG).`,
    );
  }
  return { version, patch };
}

export const insertCommand: CliCommand = {
  name: 'insert',
  summary: 'Phase 0: put the Atlas firstboot into a base Armbian image → ods-atlas-golden-vN-P-TAG.img',
  usage: [
    'Usage: atlas insert <base> --firstboot F --service S --secrets C --version N-P --tag TAG',
    '                    [--out DIR] [--force] [--profile P] [--json]',
    '',
    'Copies the base Armbian rpi4b image (.img, .img.xz, .img.gz, .img.zst or .zip) to',
    'DIR/ods-atlas-golden-vN-P-TAG.img and writes into its root filesystem, without mounting:',
    '  /usr/local/sbin/atlas_firstboot.sh 0755, /etc/systemd/system/atlas-firstboot.service 0644 (enabled),',
    '  /etc/atlas/atlas_secrets.conf 0600, /etc/atlas/golden-release.',
    'Every file is read back and compared; a manifest (.manifest.json) is written next to the image.',
    'The base image is never modified. Insert creates Phase 0 from a base image only.',
    '',
    '  --firstboot F  atlas_firstboot.sh (must start with #!)',
    '  --service S    atlas-firstboot.service (ExecStart= must run the script; [Install] WantedBy=)',
    '  --secrets C    atlas_secrets.conf (keep it chmod 600; never printed)',
    '  --version N-P  golden version and patch, e.g. 8-1',
    '  --tag TAG      e.g. FLASH',
    "  --out DIR      build folder (default ~/atlas-build, or the profile's buildDir)",
    '  --force        replace an existing output of the same name',
    '  --profile P    JSON profile: { "buildDir": "...", "destinations": { "firstboot": "...", ... } }',
  ].join('\n'),
  options: {
    firstboot: { type: 'string' },
    service: { type: 'string' },
    secrets: { type: 'string' },
    version: { type: 'string' },
    tag: { type: 'string' },
    out: { type: 'string' },
    force: { type: 'boolean', default: false },
    profile: { type: 'string' },
  },
  async run(args, ui, signal) {
    const [base] = args.positionals;
    if (!base || args.positionals.length > 1)
      throw new AtlasError('INVALID_ARGUMENT', 'insert takes one base image.');
    const need = (name: string): string => {
      const value = stringOption(args, name);
      if (!value) throw new AtlasError('INVALID_ARGUMENT', `insert needs --${name}.`);
      return value;
    };
    const options = {
      base,
      firstboot: need('firstboot'),
      service: need('service'),
      secrets: need('secrets'),
      ...parseVersionOption(need('version')),
      tag: need('tag'),
      force: flag(args, 'force'),
    };
    const out = stringOption(args, 'out');
    const profile = stringOption(args, 'profile');
    const result = await withJobLog(
      appConfigDir(),
      (value: InsertResult | null) => ({
        job: 'insert',
        source: resolve(base),
        cards: [],
        ...(value ? { output: resolve(value.output) } : {}),
      }),
      () =>
        insertJob(
          { ...options, ...(out ? { outDir: out } : {}), ...(profile ? { profile } : {}) },
          { signal, onProgress: ui.progress },
        ),
      signal,
    ).catch((error: unknown) => {
      // the engine speaks for the app; on the command line, replacing is a flag
      if (isAtlasError(error, 'ALREADY_EXISTS')) {
        throw new AtlasError(error.code, `${error.message} (--force replaces it.)`, error.details);
      }
      throw error;
    });
    for (const warning of result.warnings) ui.warn(warning);
    const b = result.base;
    const m = result.manifest;
    ui.result(
      {
        output: result.output,
        manifestPath: result.manifestPath,
        manifest: m,
        base: {
          name: b.name,
          version: b.version,
          board: b.board,
          boardFamily: b.boardFamily,
          release: b.release,
          branch: b.branch,
          kernel: b.kernel,
          variant: b.variant,
        },
        warnings: result.warnings,
        copyMethod: result.copyMethod,
        timings: result.timings,
      },
      [
        `Base: Armbian ${b.version} ${b.board} (${b.boardFamily}) ${b.release ?? '?'} ${b.branch ?? '?'} ${b.kernel ?? ''}${b.variant ? ` ${b.variant}` : ''}`,
        `Wrote ${result.output} (${formatBytes(m.base.size)}, ${result.copyMethod})`,
        ...m.files.map((f) =>
          f.type === 'symlink'
            ? `  ${f.destination} -> ${f.target}`
            : `  ${f.destination} ${f.mode} root:root`,
        ),
        `Manifest: ${result.manifestPath}`,
        `Done in ${formatDuration(result.timings.totalMs / 1000)} (inject ${Math.round(result.timings.injectMs)} ms, verify ${Math.round(result.timings.verifyMs)} ms).`,
      ],
    );
  },
};
