/**
 * `atlas restore` names and explains its two intents in the app's words (main/shared/restore-intents.ts), and
 * defaults as the app does: a change of those words or of the default shows here.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { main } from '../../main/cli/index';
import { optionHelp, USAGE_WIDTH } from '../../main/cli/command';
import { restoreCommand } from '../../main/cli/commands/restore';
import { defaultIntent, INTENT_NAMES, INTENT_SENTENCES } from '../../main/shared/restore-intents';
import type { RestoreIntent } from '../../main/contract';

const FLAGS: Record<RestoreIntent, string> = { exact: '--exact', deploy: '--deploy' };

/** What `atlas restore --help` prints, as the person sees it. */
async function help(): Promise<string> {
  const stdout = new PassThrough();
  let text = '';
  stdout.on('data', (d: Buffer) => (text += d.toString()));
  const code = await main(['restore', '--help'], {
    stdout,
    stderr: new PassThrough(),
    stdin: new PassThrough(),
  });
  assert.equal(code, 0);
  return text;
}

/** An option's text in a usage block, its wrapped lines joined again. */
function optionText(usage: string, flag: string): string {
  const lines = usage.split('\n');
  const start = lines.findIndex((l) => l.trimStart().startsWith(`${flag} `));
  assert.ok(start >= 0, `${flag} is in the usage`);
  const text = [lines[start]!.trim().slice(flag.length)];
  for (const l of lines.slice(start + 1)) {
    if (!/^ {21}\S/.test(l)) break; // the next option, or the end of the list
    text.push(l);
  }
  return text.join(' ').replace(/\s+/g, ' ').trim();
}

test("atlas restore --help says each intent with the app's name and sentence, and its default as the app has it", async () => {
  const usage = await help();
  for (const intent of ['exact', 'deploy'] as const) {
    const text = optionText(usage, FLAGS[intent]);
    assert.ok(text.startsWith(INTENT_NAMES[intent]), `${FLAGS[intent]}: ${text}`);
    assert.ok(text.endsWith(INTENT_SENTENCES[intent]), `${FLAGS[intent]}: ${text}`);
  }
  assert.match(optionText(usage, FLAGS[defaultIntent(1)]), /the default for one card/);
  assert.match(optionText(usage, FLAGS[defaultIntent(2)]), /the default for several cards/);
  for (const intent of ['exact', 'deploy'] as const) {
    assert.ok(restoreCommand.summary.includes(INTENT_NAMES[intent].toLowerCase()), restoreCommand.summary);
  }
});

test("an option's help wraps beside its flag, every word kept", () => {
  const text = 'word '.repeat(60).trim();
  const lines = optionHelp('--flag', text);
  assert.ok(lines[0]!.startsWith('  --flag '));
  for (const l of lines) assert.ok(l.length <= USAGE_WIDTH, l);
  for (const l of lines.slice(1)) assert.match(l, /^ {21}\S/);
  assert.equal(lines.join(' ').replace('--flag', '').split(/\s+/).filter(Boolean).length, 60);
  // a flag longer than the column gets a line of its own
  const long = optionHelp('--a-very-long-option NAME', 'text');
  assert.deepEqual(long, ['  --a-very-long-option NAME', `${' '.repeat(20)} text`]);
});
