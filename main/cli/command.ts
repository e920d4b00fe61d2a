/**
 * The shape of one CLI command. Each command lives in its own file under commands/ and is listed once in
 * commands/index.ts; argument parsing is node:util parseArgs, so every command reads the same way.
 */
import type { ParseArgsConfig } from 'node:util';
import type { CliUI } from './ui';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

export interface ParsedArgs {
  positionals: string[];
  values: Record<string, string | boolean | Array<string | boolean> | undefined>;
}

export interface CliCommand {
  name: string;
  /** one line for `atlas --help` */
  summary: string;
  /** the usage block for `atlas <name> --help` */
  usage: string;
  options: OptionSpec;
  run(args: ParsedArgs, ui: CliUI, signal: AbortSignal): Promise<void>;
}

/** Options every command accepts. */
export const COMMON_OPTIONS: OptionSpec = {
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
};

export function stringOption(args: ParsedArgs, name: string): string | undefined {
  const value = args.values[name];
  return typeof value === 'string' ? value : undefined;
}

export function flag(args: ParsedArgs, name: string): boolean {
  return args.values[name] === true;
}
