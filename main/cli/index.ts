/**
 * `atlas`: the command line over the same engine the app uses, for the Linux box over ssh and for scripts.
 */
import { parseArgs } from 'node:util';
import { AtlasError } from '../engine/errors';
import { COMMON_OPTIONS, type CliCommand } from './command';
import { COMMANDS } from './commands/index';
import { CliUI, type CliIO } from './ui';
import { VERSION } from '../engine/version';

function overview(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length), 8);
  return [
    `Atlas Imager ${VERSION}: build, flash, clone, restore and archive ODS Atlas SD-card images.`,
    '',
    'Usage: atlas <command> [options]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Every command takes --json (machine-readable progress and result) and --help.',
    'Destructive commands ask for confirmation on a terminal; pass --yes in scripts.',
  ].join('\n');
}

export async function main(argv: string[], io: CliIO = process): Promise<number> {
  const [name, ...rest] = argv;
  const wantsJson = rest.includes('--json');
  const ui = new CliUI(io, wantsJson);
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(`${overview()}\n`);
    return name ? 0 : 2;
  }
  if (name === '--version' || name === '-V') {
    io.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const command: CliCommand | undefined = COMMANDS.find((c) => c.name === name);
  if (!command) {
    io.stderr.write(`atlas: unknown command "${name}". Run "atlas --help" for the list.\n`);
    return 2;
  }
  let args;
  try {
    args = parseArgs({
      args: rest,
      options: { ...COMMON_OPTIONS, ...command.options },
      allowPositionals: true,
    });
  } catch (error) {
    io.stderr.write(`atlas ${name}: ${(error as Error).message}\n\n${command.usage}\n`);
    return 2;
  }
  if (args.values.help) {
    io.stdout.write(`${command.usage}\n`);
    return 0;
  }
  const controller = new AbortController();
  const onSignal = (): void => controller.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await command.run(args, ui, controller.signal);
    return 0;
  } catch (error) {
    if (error instanceof AtlasError && error.code === 'INVALID_ARGUMENT') {
      ui.error(error);
      io.stderr.write(`\n${command.usage}\n`);
      return 2;
    }
    return ui.error(error);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
