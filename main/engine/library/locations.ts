/**
 * Where the artifacts live: the build folder (Insert and Clone write there) and the vault (the permanent archive).
 * The app keeps both in `settings.json` in its config folder (Electron's userData); the CLI reads the same file,
 * so `atlas library` and `atlas vault sync` default to the folders the app shows.
 */
import { promises as fsp } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** The seed's permanent archive, on the NVME_VAULT disk. */
export const DEFAULT_VAULT_FOLDER = '/Volumes/NVME_VAULT/golden-atlas-img/';
export const SETTINGS_FILE = 'settings.json';
/** package.json's productName: the folder name Electron gives app.getPath('userData'). */
export const APP_DIR_NAME = 'Atlas Imager';

export function defaultBuildFolder(homeDir: string = homedir()): string {
  return join(homeDir, 'atlas-build');
}

/**
 * The app's config folder as Electron computes userData: macOS `~/Library/Application Support/Atlas Imager`,
 * Linux `$XDG_CONFIG_HOME/Atlas Imager` (default `~/.config`). `ATLAS_CONFIG_DIR` overrides it (tests, scripts).
 */
export function appConfigDir(
  env: NodeJS.ProcessEnv = process.env,
  homeDir: string = homedir(),
  platform: NodeJS.Platform = process.platform,
): string {
  if (env.ATLAS_CONFIG_DIR) return env.ATLAS_CONFIG_DIR;
  if (platform === 'darwin') return join(homeDir, 'Library', 'Application Support', APP_DIR_NAME);
  const xdg = env.XDG_CONFIG_HOME && env.XDG_CONFIG_HOME.startsWith('/') ? env.XDG_CONFIG_HOME : null;
  return join(xdg ?? join(homeDir, '.config'), APP_DIR_NAME);
}

export interface LibraryFolders {
  buildFolder: string;
  vaultFolder: string;
  /** the settings file that was read, or null when the defaults apply (no file, or unreadable) */
  settingsFile: string | null;
}

/**
 * The build and vault folders from the app's settings file, with the app's rules: a value is used when it is an
 * absolute path, otherwise the default applies; a missing or broken file gives the defaults.
 */
export async function readLibraryFolders(
  options: { configDir?: string; homeDir?: string } = {},
): Promise<LibraryFolders> {
  const homeDir = options.homeDir ?? homedir();
  const file = join(options.configDir ?? appConfigDir(process.env, homeDir), SETTINGS_FILE);
  const defaults = { buildFolder: defaultBuildFolder(homeDir), vaultFolder: DEFAULT_VAULT_FOLDER };
  let stored: unknown;
  try {
    stored = JSON.parse(await fsp.readFile(file, 'utf8'));
  } catch {
    return { ...defaults, settingsFile: null };
  }
  if (typeof stored !== 'object' || stored === null || Array.isArray(stored)) {
    return { ...defaults, settingsFile: null };
  }
  const o = stored as Record<string, unknown>;
  const pick = (key: 'buildFolder' | 'vaultFolder'): string => {
    const value = o[key];
    return typeof value === 'string' && value.startsWith('/') ? value : defaults[key];
  };
  return { buildFolder: pick('buildFolder'), vaultFolder: pick('vaultFolder'), settingsFile: file };
}
