/** Every CLI command, in the order `atlas --help` lists them. Add a command here and in its own file. */
import type { CliCommand } from '../command';

export const COMMANDS: CliCommand[] = [];
