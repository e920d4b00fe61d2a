/** sudo-prompt's failures become sentences a person can act on, each with its own code. */
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { elevatedCommand, elevationError } from '../../main/helper/launch';
import { onLines, parseAppMessage, parseHelperMessage, parseWorkerMessage } from '../../main/helper/protocol';
import { checkFlashOptions } from '../../main/helper/jobs';
import { isAtlasError } from '../../main/engine/errors';

test('declined, no polkit agent, no pkexec', () => {
  const declined = elevationError(new Error('User did not grant permission.'));
  assert.equal(declined.code, 'PERMISSION_DENIED');
  assert.match(declined.message, /nothing was written/);
  const agent = elevationError(new Error('No polkit authentication agent found.'));
  assert.equal(agent.code, 'ELEVATION_FAILED');
  assert.match(agent.message, /polkit authentication agent/);
  assert.match(agent.message, /sudo atlas/);
  assert.match(
    elevationError(new Error('Unable to find pkexec or kdesudo.')).message,
    /pkexec is not installed/,
  );
});

test('the helper accepts only well-formed flash requests: every target confirmed, no test hooks', () => {
  const ok = checkFlashOptions({
    source: '/x.img',
    targets: [{ device: '/dev/sdb', confirmed: { size: 100, serial: 'S' } }],
    testHooks: { beforeVerify: 'evil' },
  });
  assert.equal('testHooks' in ok, false);
  assert.deepEqual(ok.targets, [{ device: '/dev/sdb', confirmed: { size: 100, serial: 'S' } }]);
  for (const bad of [
    null,
    { source: '/x.img', targets: [] },
    { source: '/x.img', targets: [{ device: '/dev/sdb' }] },
    { source: '/x.img', targets: [{ device: '/dev/sdb', confirmed: { size: -1 } }] },
    { targets: [{ device: '/dev/sdb', confirmed: { size: 1 } }] },
  ]) {
    assert.throws(
      () => checkFlashOptions(bad),
      (e: unknown) => isAtlasError(e, 'INVALID_ARGUMENT'),
    );
  }
});

test('the elevated command carries ELECTRON_RUN_AS_NODE itself, surviving an emptied environment', () => {
  const dir = mkdtempSync(join(tmpdir(), "atlas elev'"));
  try {
    const entry = join(dir, "entry it's.js");
    writeFileSync(
      entry,
      'console.log(JSON.stringify([process.env.ELECTRON_RUN_AS_NODE ?? null, ...process.argv.slice(2)]))',
    );
    const args = [`--socket=${dir}/helper.sock`, `--token-file=${dir}/token`];
    const command = elevatedCommand(process.execPath, entry, args, true);
    assert.ok(command.startsWith('/usr/bin/env ELECTRON_RUN_AS_NODE=1 '));
    // what pkexec does to the environment: nothing of ours is left
    const out = execFileSync('env', ['-i', '/bin/sh', '-c', command], { encoding: 'utf8' });
    assert.deepEqual(JSON.parse(out), ['1', ...args]);
    const plain = elevatedCommand(process.execPath, entry, args, false);
    assert.ok(!plain.includes('ELECTRON_RUN_AS_NODE'));
    assert.deepEqual(JSON.parse(execFileSync('env', ['-i', '/bin/sh', '-c', plain], { encoding: 'utf8' })), [
      null,
      ...args,
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('both ends accept only well-formed messages: null, garbage and unknown types close the channel', () => {
  for (const bad of [
    null,
    1,
    'run',
    [],
    {},
    { type: 'nope' },
    { type: 'run', job: 1, options: {}, env: {} },
  ]) {
    assert.equal(parseAppMessage(bad), null, JSON.stringify(bad));
    assert.equal(parseHelperMessage(bad), null, JSON.stringify(bad));
  }
  assert.equal(parseAppMessage({ type: 'run', job: 'flash', options: null, env: {} }), null);
  assert.equal(parseAppMessage({ type: 'run', job: 'flash', options: {}, env: { PATH: 3 } }), null);
  assert.deepEqual(
    parseAppMessage({ type: 'run', job: 'flash', options: {}, env: { PATH: '/bin', X: 'y' } }),
    {
      type: 'run',
      job: 'flash',
      options: {},
      env: { PATH: '/bin' },
    },
  );
  assert.equal(parseHelperMessage({ type: 'hello', token: 'x' }), null);
  assert.equal(parseHelperMessage({ type: 'progress', progress: null }), null);
  // per-card progress: each card a device, a byte count and a state the app labels
  const progress = { stage: 'writing', bytesDone: 1, bytesTotal: 2, rate: 1, etaSeconds: 1 };
  const card = { device: '/dev/sdb', state: 'verifying', bytesDone: 1, bytesTotal: 2 };
  assert.notEqual(parseHelperMessage({ type: 'progress', progress: { ...progress, cards: [card] } }), null);
  for (const cards of [card, [{ ...card, state: 'exploding' }], [{ ...card, device: 1 }], [null]]) {
    assert.equal(parseHelperMessage({ type: 'progress', progress: { ...progress, cards } }), null);
  }
  assert.equal(parseHelperMessage({ type: 'error', error: { code: 'X' } }), null);
  assert.equal(parseWorkerMessage({ type: 'root', id: 1, step: 'format', path: '/dev/sdb' }), null);
  assert.equal(
    parseWorkerMessage({ type: 'root', id: 1, step: 'grow', path: '/dev/sdb', offset: '0', size: 1 }),
    null,
  );

  for (const line of ['null\n', '{"type":"cancel"}\nnull\n', 'not json\n', '{"type":"cancel"} x\n']) {
    const stream = new PassThrough();
    const seen: unknown[] = [];
    onLines(stream as unknown as Socket, parseAppMessage, (m) => seen.push(m));
    stream.on('error', () => undefined);
    stream.write(line);
    assert.equal(stream.destroyed, true, JSON.stringify(line));
    assert.ok(seen.every((m) => (m as { type: string }).type === 'cancel'));
  }
});
