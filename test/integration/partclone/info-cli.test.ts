/** `atlas info` on partclone images made by the real partclone, plain and gzipped, good and damaged. */
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { main } from '../../../main/cli/index';
import { makePartcloneSamples, type PartcloneSample } from '../../support/partclone-samples';
import { scratchDir, shell, tryRun } from '../../support/sh';
import { flipBits } from '../../support/assert';

let scratch: ReturnType<typeof scratchDir>;
let samples: PartcloneSample[];

before(() => {
  scratch = scratchDir('atlas-info-');
  samples = makePartcloneSamples(scratch.dir);
});
after(() => scratch.cleanup());

async function atlas(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (c: Buffer) => out.push(c));
  stderr.on('data', (c: Buffer) => err.push(c));
  const code = await main(argv, { stdout, stderr, stdin: new PassThrough() });
  return { code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
}

test('atlas info prints what partclone.info prints, for .pc and .pc.gz', async () => {
  for (const s of samples) {
    const theirs = tryRun('partclone.info', ['-s', s.pc, '-L', `${s.pc}.log`]);
    const text = theirs.stdout + theirs.stderr;
    const blocks = Number(/Space in use:.*= (\d+) Blocks/.exec(text)![1]);
    const fs = /File system:\s+(\S+)/.exec(text)![1];
    const human = await atlas('info', s.pc);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, new RegExp(`\\(${blocks} blocks\\)`));
    assert.match(human.stdout, new RegExp(`filesystem:\\s+${fs}`));

    shell(`pigz -c ${s.pc} > ${s.pc}.gz`);
    const json = await atlas('info', `${s.pc}.gz`, '--json', '--verify');
    assert.equal(json.code, 0, json.stderr);
    const result = JSON.parse(json.stdout.trim().split('\n').at(-1)!);
    assert.equal(result.type, 'result');
    assert.equal(result.usedBlocks, blocks);
    assert.equal(result.fsName, fs);
    assert.equal(result.compressed, true);
    assert.equal(result.verified, true);
    assert.equal(result.imageSize, readFileSync(s.pc).length);
  }
});

test('atlas info fails with one sentence on damaged images', async () => {
  const s = samples[0]!;
  const bytes = Buffer.from(readFileSync(s.pc));
  flipBits(bytes, bytes.length - 5000, 0x40); // inside the last data group
  const bad = join(scratch.dir, 'bad.pc');
  writeFileSync(bad, bytes);
  const plain = await atlas('info', bad);
  assert.equal(plain.code, 0, 'the head is fine');
  const checked = await atlas('info', bad, '--verify', '--json');
  assert.equal(checked.code, 1);
  const error = JSON.parse(checked.stdout.trim().split('\n').at(-1)!);
  assert.equal(error.code, 'CHECKSUM_MISMATCH');
  assert.match(checked.stderr, /checksum mismatch in the blocks starting at block \d+/);

  writeFileSync(join(scratch.dir, 'not.pc'), 'just text, not an image at all......');
  const notPc = await atlas('info', join(scratch.dir, 'not.pc'));
  assert.equal(notPc.code, 1);
  assert.match(notPc.stderr, /not a partclone image/);
  assert.equal((await atlas('info')).code, 2);
});
