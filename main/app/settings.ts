/** The user's settings, as JSON in the app's config folder; unknown or broken files fall back to the defaults. */
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import type { Settings } from '../contract';
import { object, onlyKeys, path } from './validate';

import { DEFAULT_VAULT_FOLDER, SETTINGS_FILE, defaultBuildFolder } from '../engine/library/locations';

export function defaultSettings(homeDir: string): Settings {
  return { buildFolder: defaultBuildFolder(homeDir), vaultFolder: DEFAULT_VAULT_FOLDER };
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
    const pick = (key: keyof Settings): string =>
      typeof stored[key] === 'string' && (stored[key] as string).startsWith('/')
        ? (stored[key] as string)
        : defaults[key];
    return { buildFolder: pick('buildFolder'), vaultFolder: pick('vaultFolder') };
  }

  /** Validates and saves a change; writes a temp file and renames it so a crash never leaves half a file. */
  async set(change: unknown): Promise<Settings> {
    const o = onlyKeys(object(change, 'The settings'), ['buildFolder', 'vaultFolder'], 'The settings');
    const next = { ...(await this.get()) };
    if (o.buildFolder !== undefined) next.buildFolder = path(o.buildFolder, 'The build folder');
    if (o.vaultFolder !== undefined) next.vaultFolder = path(o.vaultFolder, 'The vault folder');
    await fsp.mkdir(join(this.file, '..'), { recursive: true });
    const tmp = `${this.file}.${process.pid}.tmp`;
    await fsp.writeFile(tmp, `${JSON.stringify(next, null, 2)}\n`, { mode: 0o600 });
    await fsp.rename(tmp, this.file);
    return next;
  }
}
