/**
 * The per-card failure rule Flash and Restore share (card-board.ts): a card dropped with its own error (card, step,
 * byte, how far), the others untouched, and each card's bar. The last test reads the engine's sources so that a
 * job writing its own card board or its own "went away" message again is caught.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { AtlasError } from '../../main/engine/errors';
import { ProgressMeter, type Progress } from '../../main/engine/progress';
import { CardBoard, dropCard, everyCardFailed, type BoardCard } from '../../main/engine/jobs/card-board';
import { sourceFiles, sourceRoot } from '../support/source';

function card(device: string): BoardCard {
  return {
    spec: { device },
    live: true,
    error: null,
    bytesWritten: 0,
    verifiedBytes: 0,
    state: 'writing',
    stateBytes: 0,
  };
}

function eio(): NodeJS.ErrnoException {
  return Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' });
}

/** A "device" node that exists (a plain file): an I/O error on it is the card's, not a removal. */
function withDevice(run: (device: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'atlas-board-'));
  const device = join(dir, 'sdz');
  writeFileSync(device, '');
  try {
    run(device);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('a card that fails at a byte is dropped with the step, the byte and how far it got; its first error stays', () => {
  withDevice((device) => {
    const c = card(device);
    c.bytesWritten = 8192;
    dropCard(c, eio(), 'Writing', { at: 4096, reached: '8 KiB of 1 MiB restored' });
    assert.equal(c.live, false);
    assert.equal(c.state, 'failed');
    assert.equal(c.error?.code, 'IO_ERROR');
    assert.match(
      c.error!.message,
      new RegExp(`^Writing ${device} at byte 4096 \\(8 KiB of 1 MiB restored\\): `),
    );
    assert.deepEqual({ ...c.error!.details }, { device, offset: 4096, written: 8192, verified: 0 });
    dropCard(c, new Error('later'), 'Verifying');
    assert.equal(c.error?.code, 'IO_ERROR', 'a dropped card keeps the error it was dropped with');
  });
});

test('a step at no byte names the card only; an AtlasError keeps its own message, with the card named', () => {
  withDevice((device) => {
    const a = card(device);
    dropCard(a, eio(), 'Flushing');
    assert.match(a.error!.message, new RegExp(`^Flushing ${device}: input/output error`));
    assert.deepEqual({ ...a.error!.details }, { device });
    const b = card(device);
    const own = new AtlasError('VERIFY_MISMATCH', `${device} differs at byte 12.`, { offset: 12 });
    dropCard(b, own, 'Verifying', { at: 12, reached: '0 B verified' });
    assert.deepEqual([b.error!.code, b.error!.message], [own.code, own.message]);
    assert.deepEqual({ ...b.error!.details }, { offset: 12, device });
    // one that does not name its card is given the card's device (the deployment record goes by it)
    const c = card(device);
    const unnamed = new AtlasError('NOT_FOUND', '/etc/hostname in the image is missing.', { image: device });
    dropCard(c, unnamed, 'Re-arming');
    assert.equal(c.error!.message, unnamed.message);
    assert.equal(c.error!.code, 'NOT_FOUND');
    assert.deepEqual({ ...c.error!.details }, { image: device, device });
  });
});

test('an I/O error on a card whose node is gone reads as the card removed, in the words of the step', () => {
  const device = join(tmpdir(), `atlas-board-gone-${process.pid}`);
  const c = card(device);
  dropCard(c, eio(), 'Growing root on');
  assert.equal(c.error?.code, 'DRIVE_REMOVED');
  assert.equal(c.error!.message, `${device} went away while growing root on it. Was the card removed?`);
  const d = card(device);
  dropCard(d, eio(), 'Writing', { at: 512, reached: '1 KiB of the image written' });
  assert.equal(
    d.error!.message,
    `${device} went away while writing it at byte 512 (1 KiB of the image written). Was the card removed?`,
  );
  assert.equal(d.error!.details.offset, 512);
});

test('every card failed: one card gives its own error, several give each message and every result', () => {
  const one = card('/dev/sdy');
  one.live = false;
  one.error = new AtlasError('IO_ERROR', 'Writing /dev/sdy: input/output error.');
  assert.equal(
    everyCardFailed([one], () => null),
    one.error,
  );
  const two = card('/dev/sdx');
  two.live = false;
  two.error = new AtlasError('DRIVE_REMOVED', '/dev/sdx went away.', { device: '/dev/sdx' });
  const e = everyCardFailed([one, two], (c) => c.spec.device);
  assert.equal(e.code, 'IO_ERROR');
  assert.equal(e.message, 'Every card failed. Writing /dev/sdy: input/output error. /dev/sdx went away.');
  assert.deepEqual(e.details.targets, ['/dev/sdy', '/dev/sdx']);
});

test("the board: each card's state at once, its bytes per pass, a dropped card failed with its error", () => {
  const events: Progress[] = [];
  const meter = new ProgressMeter('writing', 100, (p) => events.push(p), { intervalMs: 0 });
  const [a, b] = [card('/dev/sdx'), card('/dev/sdy')] as [BoardCard, BoardCard];
  const board = new CardBoard([a, b]);
  board.use(meter, 100, 'writing');
  a.stateBytes = 40;
  b.stateBytes = 30;
  withDevice((device) => {
    b.spec.device = device;
    dropCard(b, eio(), 'Writing', { at: 0, reached: '0 B of the image written' });
  });
  board.report();
  let cards = events.at(-1)!.cards!;
  assert.deepEqual(
    cards.map((c) => [c.state, c.bytesDone, c.bytesTotal, c.error?.code]),
    [
      ['writing', 40, 100, undefined],
      ['failed', 30, 100, 'IO_ERROR'],
    ],
  );
  board.enter('finishing');
  assert.deepEqual(
    events.at(-1)!.cards!.map((c) => [c.state, c.bytesDone]),
    [
      ['finishing', 40],
      ['failed', 30],
    ],
    'entering a state within a pass keeps the bytes, and a dropped card stays failed',
  );
  board.use(new ProgressMeter('verifying', 50, (p) => events.push(p)), 50, 'verifying');
  cards = events.at(-1)!.cards!;
  assert.deepEqual(
    cards.map((c) => [c.state, c.bytesDone, c.bytesTotal]),
    [
      ['verifying', 0, 50],
      ['failed', 30, 50],
    ],
  );
});

test('only card-board.ts builds the cards’ bars and says a card went away mid-job', () => {
  const engine = sourceFiles('main/engine', ['.ts']).map((f) => ({
    path: relative(sourceRoot(), f.path),
    text: f.text,
  }));
  const owners = (pattern: RegExp): string[] =>
    engine.filter((f) => pattern.test(f.text)).map((f) => f.path.split('\\').join('/'));
  assert.deepEqual(owners(/\.setCards\(/), ['main/engine/jobs/card-board.ts']);
  assert.deepEqual(owners(/went away while/), ['main/engine/jobs/card-board.ts']);
  assert.deepEqual(owners(/class \w*Board\b/), ['main/engine/jobs/card-board.ts']);
});
