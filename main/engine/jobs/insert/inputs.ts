/**
 * Insert's step 1: every input checked before anything is written — the name's parts, the profile, the base
 * file, the three Atlas files (read whole: they are small) and the output's names in the build folder.
 */
import { promises as fsp, type Stats } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { AtlasError, throwIfCancelled, toAtlasError } from '../../errors';
import { checkGoldenNumber, checkTag } from '../../names';
import { goldenName } from '../../../shared/names';
import { loadProfile, resolveProfile, type InsertDestinations, type InsertProfile } from './profile';
import { execCommand, parseUnitFile, unitValues, wantedBy } from './systemd-unit';

/** What insertJob is asked for (its options, less the ones that only steer how it runs). */
export interface InsertInputs {
  /** base Armbian image: .img, .img.xz, .img.gz, .img.zst or .zip */
  base: string;
  /** atlas_firstboot.sh */
  firstboot: string;
  /** atlas-firstboot.service */
  service: string;
  /** atlas_secrets.conf */
  secrets: string;
  /** ods-atlas-golden-vVERSION-PATCH-TAG: whole numbers and a tag, by the rules of main/shared/names */
  version: number;
  patch: number;
  tag: string;
  /** output folder; default the profile's buildDir (~/atlas-build) */
  outDir?: string;
  /** replace an existing output of the same name */
  force?: boolean;
  /** a profile object, or the path of a JSON profile file; default the built-in destinations */
  profile?: InsertProfile | string;
}

export interface InputFile {
  path: string;
  data: Buffer;
  mode: number;
}

/** The inputs once checked, and where the output goes. */
export interface CheckedInputs {
  version: number;
  patch: number;
  tag: string;
  /** ods-atlas-golden-vN-P-TAG */
  name: string;
  destinations: InsertDestinations;
  basePath: string;
  baseName: string;
  baseStat: Stats;
  script: InputFile;
  service: InputFile;
  secrets: InputFile;
  /** the units whose .wants folder enables the service */
  targets: string[];
  outDir: string;
  output: string;
  manifestPath: string;
  /** things a person should hear about; never secret content */
  warnings: string[];
}

export async function checkInputs(options: InsertInputs, signal?: AbortSignal): Promise<CheckedInputs> {
  const version = checkGoldenNumber(options.version, 'version N');
  const patch = checkGoldenNumber(options.patch, 'patch P');
  const tag = checkTag(options.tag);
  const profile =
    typeof options.profile === 'string'
      ? await loadProfile(options.profile)
      : options.profile
        ? resolveProfile(options.profile)
        : await loadProfile();
  const destinations = profile.destinations;
  const basePath = resolve(options.base);
  const baseStat = await checkBase(basePath);
  const script = await readInput('firstboot script', resolve(options.firstboot), signal);
  const service = await readInput('service unit', resolve(options.service), signal);
  const secrets = await readInput('secrets file', resolve(options.secrets), signal);
  checkFirstboot(script);
  const targets = checkService(service, destinations.firstboot);
  const warnings: string[] = [];
  const openSecrets = secretsModeWarning(secrets);
  if (openSecrets) warnings.push(openSecrets);

  const outDir = resolve(options.outDir ?? profile.buildDir);
  const name = goldenName(version, patch, tag);
  const { output, manifestPath } = await checkOutput(outDir, name, basePath, options.force === true);
  return {
    version,
    patch,
    tag,
    name,
    destinations,
    basePath,
    baseName: basename(basePath),
    baseStat,
    script,
    service,
    secrets,
    targets,
    outDir,
    output,
    manifestPath,
    warnings,
  };
}

/** The output's two files in `outDir`: refused when one is the base, or exists and is not to be replaced. */
export async function checkOutput(
  outDir: string,
  name: string,
  basePath: string,
  force: boolean,
): Promise<{ output: string; manifestPath: string }> {
  const output = join(outDir, `${name}.img`);
  const manifestPath = join(outDir, `${name}.manifest.json`);
  if (output === basePath) {
    throw new AtlasError(
      'SOURCE_IS_TARGET',
      `The output ${output} is the base image itself. Choose another folder.`,
    );
  }
  for (const path of [output, manifestPath]) {
    const exists = await fsp.lstat(path).then(
      () => true,
      () => false,
    );
    if (exists && !force) {
      throw new AtlasError(
        'ALREADY_EXISTS',
        `${path} already exists. Choose another version or tag, or replace the existing image.`,
        { path },
      );
    }
  }
  return { output, manifestPath };
}

export async function checkBase(basePath: string): Promise<Stats> {
  const baseStat = await fsp.stat(basePath).catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new AtlasError(
        'NOT_FOUND',
        `The base image ${basePath} does not exist. Check the path and try again.`,
        { input: 'base image' },
      );
    }
    throw toAtlasError(error, 'Cannot read the base image');
  });
  if (!baseStat.isFile())
    throw new AtlasError('INVALID_ARGUMENT', `The base image ${basePath} is not a regular file.`);
  if (baseStat.size === 0) {
    throw new AtlasError('INVALID_ARGUMENT', `The base image ${basePath} is empty. Download it again.`, {
      input: 'base image',
    });
  }
  return baseStat;
}

export async function readInput(label: string, path: string, signal?: AbortSignal): Promise<InputFile> {
  throwIfCancelled(signal);
  let st;
  try {
    st = await fsp.stat(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new AtlasError(
        'NOT_FOUND',
        `The ${label} ${path} does not exist. Check the path and try again.`,
        { input: label },
      );
    }
    throw toAtlasError(error, `Cannot read the ${label}`);
  }
  if (!st.isFile()) throw new AtlasError('INVALID_ARGUMENT', `The ${label} ${path} is not a regular file.`);
  if (st.size === 0) {
    throw new AtlasError('INVALID_ARGUMENT', `The ${label} ${path} is empty. Give the real file.`, {
      input: label,
    });
  }
  const data = await fsp.readFile(path).catch((error: unknown) => {
    throw toAtlasError(error, `Cannot read the ${label}`);
  });
  return { path, data, mode: st.mode & 0o7777 };
}

export function checkFirstboot(script: InputFile): void {
  const firstLine = script.data
    .subarray(0, Math.min(script.data.length, 256))
    .toString('latin1')
    .split('\n')[0]!;
  if (!firstLine.startsWith('#!')) {
    throw new AtlasError(
      'INVALID_ARGUMENT',
      `The firstboot script ${script.path} has no shebang: its first line must name the interpreter, e.g. #!/bin/bash.`,
    );
  }
  if (firstLine.endsWith('\r')) {
    throw new AtlasError(
      'INVALID_ARGUMENT',
      `The firstboot script ${script.path} has Windows line endings (CRLF); the kernel cannot run it. Convert it with dos2unix.`,
    );
  }
}

/** Checks the unit and returns the units whose .wants folder enables it. */
export function checkService(service: InputFile, scriptDestination: string): string[] {
  const unit = parseUnitFile(service.data.toString('utf8'));
  const hint = `It must be a systemd service whose ExecStart= runs ${scriptDestination}.`;
  if (!unit.sections.has('Service')) {
    throw new AtlasError('INVALID_ARGUMENT', `The unit ${service.path} has no [Service] section. ${hint}`);
  }
  const commands = unitValues(unit, 'Service', 'ExecStart').map(execCommand);
  if (!commands.some((words) => words.includes(scriptDestination))) {
    const found = commands.map((w) => w[0]).filter(Boolean);
    throw new AtlasError(
      'INVALID_ARGUMENT',
      `The unit ${service.path} does not run the injected script: ${found.length ? `ExecStart= runs ${found.join(', ')}` : 'it has no ExecStart='}. ${hint}`,
    );
  }
  const targets = wantedBy(unit);
  if (targets.length === 0) {
    throw new AtlasError(
      'INVALID_ARGUMENT',
      `The unit ${service.path} has no WantedBy= in an [Install] section, so it cannot be enabled. Add:\n[Install]\nWantedBy=multi-user.target`,
    );
  }
  for (const t of targets) {
    if (t.includes('/') || !/^[A-Za-z0-9:_.@-]+\.(target|service)$/.test(t)) {
      throw new AtlasError(
        'INVALID_ARGUMENT',
        `The unit ${service.path} has WantedBy=${t}, which is not a unit name.`,
      );
    }
  }
  return [...new Set(targets)];
}

export const octal = (mode: number): string => mode.toString(8).padStart(4, '0');

/** The secrets file should be its owner's alone: say so (with the fix) when its group or others can read it. */
export function secretsModeWarning(secrets: InputFile): string | null {
  const group = (secrets.mode & 0o040) !== 0;
  const others = (secrets.mode & 0o004) !== 0;
  if (!group && !others) return null;
  const who = group && others ? 'its group and others' : group ? 'its group' : 'others';
  return `The secrets file ${secrets.path} is readable by ${who} (mode ${octal(secrets.mode)}). Run: chmod 600 ${secrets.path}`;
}
