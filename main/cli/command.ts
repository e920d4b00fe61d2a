/**
 * The shape of one CLI command. Each command lives in its own file under commands/ and is listed once in
 * commands/index.ts; argument parsing is node:util parseArgs, so every command reads the same way.
 */
import type { ParseArgsConfig } from 'node:util';
import { AtlasError } from '../engine/errors';
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

/**
 * The job's result, or its refusal with `codes` completed by what a flag of this command does about it: the
 * engine's messages are the app's and name no flags.
 */
export async function withFlagHint<T>(job: Promise<T>, codes: readonly string[], hint: string): Promise<T> {
  try {
    return await job;
  } catch (error) {
    if (error instanceof AtlasError && codes.includes(error.code)) {
      throw new AtlasError(error.code, `${error.message} (${hint})`, error.details, { cause: error });
    }
    throw error;
  }
}

/** The width a usage block is wrapped to. */
export const USAGE_WIDTH = 110;

/**
 * An option's lines in a usage block: the flag, then `text` wrapped beside it from column `column` (for a text
 * the CLI takes from the app's words, which are not written to a terminal's width).
 */
export function optionHelp(option: string, text: string, column = 21): string[] {
  const indent = ''.padEnd(column - 1);
  const lines: string[] = [];
  let line = `  ${option}`.padEnd(column - 1);
  if (line.length > indent.length) {
    lines.push(line);
    line = indent;
  }
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line.length > indent.length && line.length + 1 + word.length > USAGE_WIDTH) {
      lines.push(line);
      line = indent;
    }
    line += ` ${word}`;
  }
  lines.push(line);
  return lines;
}
