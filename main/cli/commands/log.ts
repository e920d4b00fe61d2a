import { AtlasError } from '../../engine/errors';
import { formatBytes } from '../../engine/format';
import { readJobLog } from '../../engine/library/job-log';
import { appConfigDir } from '../../engine/library/locations';
import { stringOption, type CliCommand } from '../command';

export const logCommand: CliCommand = {
  name: 'log',
  summary:
    'Show the job log: the cards flashed, cloned and restored, the inserts and vault syncs (app or atlas), newest first',
  usage: [
    'Usage: atlas log [--last N] [--json]',
    '',
    "Prints the job log kept in the app's config folder (job-log.jsonl), where the app and atlas both add a line as",
    'each flash, clone, restore, insert and vault sync ends: when, which job, from what (with its sha256 where',
    'known), onto or from which cards (model, serial, size), what it made, and how it ended. --last: how many',
    '(default 20).',
  ].join('\n'),
  options: { last: { type: 'string' } },
  async run(args, ui) {
    if (args.positionals.length > 0) throw new AtlasError('INVALID_ARGUMENT', 'log takes no arguments.');
    const lastText = stringOption(args, 'last') ?? '20';
    const last = Number(lastText);
    if (!Number.isInteger(last) || last < 1) {
      throw new AtlasError('INVALID_ARGUMENT', `--last takes a whole number of entries, not "${lastText}".`);
    }
    const entries = await readJobLog(appConfigDir(), last);
    ui.result({ entries }, [
      ...(entries.length === 0
        ? ['The job log is empty: nothing has been flashed, cloned, restored, inserted or synced yet.']
        : []),
      ...entries.flatMap((e) => [
        `${e.time.slice(0, 19).replace('T', ' ')}  ${e.job}  ${e.result}${e.error ? ` (${e.error})` : ''}  ${e.source}${e.output ? ` → ${e.output}` : ''}${e.sha256 ? `  sha256 ${e.sha256}` : ''}`,
        ...e.cards.map(
          (c) =>
            `    ${c.device}  ${c.model}  ${c.size === null ? 'no size' : formatBytes(c.size)}${c.serial ? `  serial ${c.serial}` : ''}${c.ok === false ? '  failed' : ''}`,
        ),
      ]),
    ]);
  },
};
