/** Every CLI command, in the order `atlas --help` lists them. Add a command here and in its own file. */
import type { CliCommand } from '../command';
import { checkCardCommand } from './check-card';
import { cloneCommand } from './clone';
import { drivesCommand } from './drives';
import { flashCommand } from './flash';
import { infoCommand } from './info';
import { insertCommand } from './insert';
import { libraryCommand } from './library';
import { logCommand } from './log';
import { restoreCommand } from './restore';
import { vaultCommand } from './vault';
import { verifyCommand } from './verify';

export const COMMANDS: CliCommand[] = [
  insertCommand,
  cloneCommand,
  restoreCommand,
  flashCommand,
  drivesCommand,
  checkCardCommand,
  verifyCommand,
  infoCommand,
  libraryCommand,
  vaultCommand,
  logCommand,
];
