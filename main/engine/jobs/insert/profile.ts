/**
 * Where Insert puts things: the build folder on this machine and the destinations inside the image.
 * The defaults follow inject_atlas.sh; a JSON profile file overrides any of them, e.g.
 *   { "buildDir": "~/atlas-build", "destinations": { "firstboot": "/usr/local/sbin/atlas_firstboot.sh" } }
 */
import { promises as fsp } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, posix, resolve } from 'node:path';
import { AtlasError, toAtlasError } from '../../errors';

export interface InsertDestinations {
  /** the firstboot script, 0755 root:root */
  firstboot: string;
  /** the systemd unit, 0644 root:root; its file name is the unit name that gets enabled */
  service: string;
  /** the secrets, 0600 root:root */
  secrets: string;
  /** the golden-release file later phases read, 0644 root:root */
  goldenRelease: string;
}

export interface InsertProfile {
  /** absolute path of the folder outputs go to */
  buildDir: string;
  destinations: InsertDestinations;
}

export const DEFAULT_DESTINATIONS: Readonly<InsertDestinations> = Object.freeze({
  firstboot: '/usr/local/sbin/atlas_firstboot.sh',
  service: '/etc/systemd/system/atlas-firstboot.service',
  secrets: '/etc/atlas/atlas_secrets.conf',
  goldenRelease: '/etc/atlas/golden-release',
});

/** Folders systemd loads units from on Debian; enablement links always go under the first. */
export const SYSTEMD_UNIT_DIRS = ['/etc/systemd/system', '/usr/lib/systemd/system', '/lib/systemd/system'];

export function defaultBuildDir(): string {
  return join(homedir(), 'atlas-build');
}

export function defaultProfile(): InsertProfile {
  return { buildDir: defaultBuildDir(), destinations: { ...DEFAULT_DESTINATIONS } };
}

function expandHome(path: string): string {
  return path === '~' || path.startsWith('~/') ? join(homedir(), path.slice(1)) : path;
}

function checkDestination(key: string, value: unknown, source: string): string {
  if (typeof value !== 'string' || !value.startsWith('/') || value.includes('\0') || value.endsWith('/')) {
    throw new AtlasError(
      'INVALID_ARGUMENT',
      `${source}: destinations.${key} must be an absolute path inside the image, like "${DEFAULT_DESTINATIONS[key as keyof InsertDestinations]}".`,
    );
  }
  if (posix.normalize(value) !== value) {
    throw new AtlasError(
      'INVALID_ARGUMENT',
      `${source}: destinations.${key} "${value}" is not a normalised path.`,
    );
  }
  return value;
}

/** Checks a profile object (from JSON) and fills the defaults in. `source` names it in messages. */
export function resolveProfile(input: unknown, source = 'profile', baseDir = process.cwd()): InsertProfile {
  const profile = defaultProfile();
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new AtlasError('INVALID_ARGUMENT', `${source} must hold a JSON object.`);
  }
  const record = input as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (key !== 'buildDir' && key !== 'destinations') {
      throw new AtlasError(
        'INVALID_ARGUMENT',
        `${source}: unknown key "${key}" (known: buildDir, destinations).`,
      );
    }
  }
  if (record.buildDir !== undefined) {
    if (typeof record.buildDir !== 'string' || record.buildDir === '') {
      throw new AtlasError('INVALID_ARGUMENT', `${source}: buildDir must be a folder path.`);
    }
    profile.buildDir = resolve(baseDir, expandHome(record.buildDir));
  }
  if (record.destinations !== undefined) {
    const d = record.destinations;
    if (d === null || typeof d !== 'object' || Array.isArray(d)) {
      throw new AtlasError('INVALID_ARGUMENT', `${source}: destinations must be an object.`);
    }
    for (const [key, value] of Object.entries(d)) {
      if (!(key in DEFAULT_DESTINATIONS)) {
        throw new AtlasError(
          'INVALID_ARGUMENT',
          `${source}: unknown destination "${key}" (known: ${Object.keys(DEFAULT_DESTINATIONS).join(', ')}).`,
        );
      }
      profile.destinations[key as keyof InsertDestinations] = checkDestination(key, value, source);
    }
  }
  const { destinations } = profile;
  const unit = posix.basename(destinations.service);
  if (!unit.endsWith('.service') || !SYSTEMD_UNIT_DIRS.includes(posix.dirname(destinations.service))) {
    throw new AtlasError(
      'INVALID_ARGUMENT',
      `${source}: destinations.service must be a .service file in ${SYSTEMD_UNIT_DIRS.join(' or ')}.`,
    );
  }
  const all = Object.values(destinations);
  if (new Set(all).size !== all.length) {
    throw new AtlasError('INVALID_ARGUMENT', `${source}: two destinations are the same path.`);
  }
  return profile;
}

/** Reads a JSON profile file; without a path, the defaults. */
export async function loadProfile(path?: string): Promise<InsertProfile> {
  if (!path) return defaultProfile();
  let text: string;
  try {
    text = await fsp.readFile(path, 'utf8');
  } catch (error) {
    throw toAtlasError(error, 'Cannot read the profile');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new AtlasError(
      'INVALID_ARGUMENT',
      `The profile ${path} is not valid JSON: ${(error as Error).message}`,
    );
  }
  return resolveProfile(json, `The profile ${path}`, dirname(resolve(path)));
}
