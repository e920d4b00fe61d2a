/**
 * Check this card, against a genuine card (a loop device over a file) and fake-capacity cards made with the
 * fault card (a FUSE file that wraps every write past its real size onto the start, as cheap fake cards do).
 */
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { checkCard } from '../../main/engine/jobs/check-card';
import { openDirect } from '../../main/engine/io/direct';
import { attachLoop } from '../support/loop';
import { makeFaultCard } from '../support/fault-card';
import { scratchDir, shell } from '../support/sh';

const MIB = 1024 * 1024;
let dir = '';
let cleanup = (): void => undefined;

before(() => {
  ({ dir, cleanup } = scratchDir('atlas-check-card-'));
});
after(() => cleanup());

function sha(path: string, bytes: number): string {
  return shell(`head -c ${bytes} ${path} | sha256sum`).split(' ')[0]!;
}

test('a genuine card: every probe holds, and the card is left as it was', async () => {
  const file = join(dir, 'genuine.bin');
  shell(`head -c ${64 * MIB} /dev/urandom > ${file}`);
  const before = sha(file, 64 * MIB);
  const loop = attachLoop(file, { partitions: false });
  try {
    const dev = await openDirect(loop.device, { write: true, exclusive: true });
    try {
      const r = await checkCard(dev);
      assert.equal(r.verdict, 'genuine');
      assert.equal(r.claimedBytes, 64 * MIB);
      assert.equal(r.realBytesAtMost, null);
      assert.ok(r.restored);
      assert.ok(r.probes >= 30, `${r.probes} probes`);
    } finally {
      await dev.handle.close();
    }
  } finally {
    loop.detach();
  }
  assert.equal(sha(file, 64 * MIB), before, 'the card was changed');
});

for (const real of [16, 24]) {
  test(`a card claiming 128 MiB that wraps at ${real} MiB is called fake, with its real size`, async () => {
    const card = await makeFaultCard(join(dir, `fake-${real}`), 128 * MIB);
    try {
      shell(`head -c ${real * MIB} /dev/urandom | dd of=${card.loop.device} bs=1M oflag=direct status=none`);
      card.set({ realCapacity: real * MIB });
      const before = sha(card.backing, real * MIB);
      const dev = await openDirect(card.loop.device, { write: true, exclusive: true });
      let r;
      try {
        r = await checkCard(dev);
      } finally {
        await dev.handle.close();
      }
      assert.equal(r.verdict, 'fake');
      assert.equal(r.claimedBytes, 128 * MIB);
      // 16 MiB is found exactly; 24 MiB is no power of two, so the probes can only bound it
      if (real === 16) assert.equal(r.wrapsAt, 16 * MIB);
      assert.ok(r.wrapsAt !== null && r.wrapsAt % (real * MIB) === 0, `wraps at ${r.wrapsAt}`);
      assert.ok(r.realBytesAtMost !== null && r.realBytesAtMost >= real * MIB, JSON.stringify(r));
      assert.ok(r.realBytesAtMost! < 128 * MIB, JSON.stringify(r));
      assert.ok(r.restored, 'the original bytes were not put back');
      assert.equal(sha(card.backing, real * MIB), before, 'the card was changed');
    } finally {
      await card.close();
    }
  });
}

test('a card that fails to write past some point: the error names the card and the byte', async () => {
  const card = await makeFaultCard(join(dir, 'eio'), 64 * MIB, { eioWriteFrom: 40 * MIB });
  try {
    const dev = await openDirect(card.loop.device, { write: true, exclusive: true });
    try {
      await assert.rejects(checkCard(dev), (e: Error) => {
        assert.match(e.message, new RegExp(`${card.loop.device}.*at byte \\d+`));
        return true;
      });
    } finally {
      await dev.handle.close();
    }
  } finally {
    await card.close();
  }
});
