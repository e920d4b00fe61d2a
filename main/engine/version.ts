/**
 * The tool version written into manifests and shown by `atlas --version`. package.json holds it; the build
 * writes it beside this file (version.json), because package.json is not beside the engine in a package (the
 * root helper runs the engine from app.asar.unpacked, outside the archive).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const VERSION_FILE = 'version.json';

export const VERSION: string = (
  JSON.parse(readFileSync(join(__dirname, VERSION_FILE), 'utf8')) as { version: string }
).version;
