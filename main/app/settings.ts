/** The user's settings, as JSON in the app's config folder; unknown or broken files fall back to the defaults. */
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import type { Settings } from '../contract';
import { object, onlyKeys, path } from './validate';
import { AtlasError } from '../engine/errors';
import { formatRemoteFolder, parseRemoteFolder } from '../shared/remote-folders';

import { DEFAULT_VAULT_FOLDER, SETTINGS_FILE, defaultBuildFolder } from '../engine/library/locations';

export function defaultSettings(homeDir: string): Settings {
  return { buildFolder: defaultBuildFolder(homeDir), vaultFolder: DEFAULT_VAULT_FOLDER, remoteFolders: [] };
}

/** More would not fit the Library page; a person has a build box or two. */
export const MAX_REMOTE_FOLDERS = 20;

/** The remote folders as settings keep them: each one checked and written canonically, duplicates once. */
export function remoteFolders(value: unknown): string[] {
  if (!Array.isArray(value) || value.length > MAX_REMOTE_FOLDERS) {
    throw new AtlasError(
      'INVALID_ARGUMENT',
      `The remote build folders must be a list of at most ${MAX_REMOTE_FOLDERS}.`,
    );
  }
  const out: string[] = [];
  for (const item of value) {
    const parsed = typeof item === 'string' && item.length <= 1024 ? parseRemoteFolder(item) : null;
    if (!parsed || 'error' in parsed) {
      throw new AtlasError(
        'INVALID_ARGUMENT',
        `The remote build folder ${typeof item === 'string' ? `"${item}"` : ''} is not valid: ${parsed && 'error' in parsed ? parsed.error : 'it must be text.'}`,
      );
    }
    const text = formatRemoteFolder(parsed);
    if (!out.includes(text)) out.push(text);
  }
  return out;
}

export class SettingsStore {
  readonly file: string;

  constructor(
    configDir: string,
    private readonly homeDir: string,
  ) {
    this.file = join(configDir, SETTINGS_FILE);
  }

  async get(): Promise<Settings> {
    const defaults = defaultSettings(this.homeDir);
    let stored: Record<string, unknown> = {};
    try {
      stored = object(JSON.parse(await fsp.readFile(this.file, 'utf8')));
    } catch {
      return defaults;
    }
    const pick = (key: 'buildFolder' | 'vaultFolder'): string =>
      typeof stored[key] === 'string' && (stored[key] as string).startsWith('/')
        ? (stored[key] as string)
        : defaults[key];
    let remotes: string[] = [];
    try {
      remotes = remoteFolders(stored.remoteFolders ?? []);
    } catch {
      // a hand-edited entry that breaks the rule: the list is left out rather than half-read
    }
    return { buildFolder: pick('buildFolder'), vaultFolder: pick('vaultFolder'), remoteFolders: remotes };
  }

  /** Validates and saves a change; writes a temp file and renames it so a crash never leaves half a file. */
  async set(change: unknown): Promise<Settings> {
    const o = onlyKeys(
      object(change, 'The settings'),
      ['buildFolder', 'vaultFolder', 'remoteFolders'],
      'The settings',
    );
    const next = { ...(await this.get()) };
    if (o.buildFolder !== undefined) next.buildFolder = path(o.buildFolder, 'The build folder');
    if (o.vaultFolder !== undefined) next.vaultFolder = path(o.vaultFolder, 'The vault folder');
    if (o.remoteFolders !== undefined) next.remoteFolders = remoteFolders(o.remoteFolders);
    await fsp.mkdir(join(this.file, '..'), { recursive: true });
    const tmp = `${this.file}.${process.pid}.tmp`;
    await fsp.writeFile(tmp, `${JSON.stringify(next, null, 2)}\n`, { mode: 0o600 });
    await fsp.rename(tmp, this.file);
    return next;
  }
}
