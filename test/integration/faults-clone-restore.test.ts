/**
 * Clone from and restore onto faulty cards (test/support/fault-card.ts): the error names the card, the byte and
 * how far the job got; a clone that fails leaves no folder that looks complete.
 */
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { cloneJob } from '../../main/engine/jobs/clone';
import { restoreJob } from '../../main/engine/jobs/restore';
import { localCardAccess } from '../../main/engine/drives/index';
import type { AtlasError } from '../../main/engine/errors';
import { makeArmbianImage } from '../support/armbian';
import { makeFaultCard } from '../support/fault-card';
import { scratchDir, shell } from '../support/sh';

const MIB = 1024 * 1024;
let dir = '';
let cleanup = (): void => undefined;
let image = '';
let folder = '';

before(async () => {
  ({ dir, cleanup } = scratchDir('atlas-faults-clone-'));
  image = makeArmbianImage(join(dir, 'kiosk.img'), { imgMib: 160, extraMib: 48 });
  folder = (await cloneJob({ source: image, outDir: dir, tag: 'GOOD', access: localCardAccess() })).folder;
});
after(() => cleanup());

test('clone from a card that fails to read: card, byte and progress named; nothing looks complete', async () => {
  const card = await makeFaultCard(join(dir, 'src'), 160 * MIB);
  try {
    shell(`dd if=${image} of=${card.loop.device} bs=4M oflag=direct status=none`);
    card.set({ eioReadFrom: 80 * MIB });
    const out = join(dir, 'out');
    shell(`mkdir -p ${out}`);
    await assert.rejects(
      cloneJob({ source: card.loop.device, outDir: out, tag: 'BAD', access: localCardAccess() }),
      (e: AtlasError) => {
        assert.equal(e.code, 'IO_ERROR', e.message);
        assert.match(
          e.message,
          new RegExp(`^Reading ${card.loop.device} at byte \\d+ \\(partition 2, .* read\\)`),
        );
        assert.ok((e.details.offset as number) <= 80 * MIB, JSON.stringify(e.details));
        return true;
      },
    );
    assert.deepEqual(readdirSync(out), [], 'a failed clone leaves nothing behind');
    assert.equal(existsSync(join(out, 'golden-clone-BAD')), false);
  } finally {
    await card.close();
  }
});

test('restore onto a card that fails to write: card, byte and progress named', async () => {
  const card = await makeFaultCard(join(dir, 'dst'), 192 * MIB, { eioWriteFrom: 100 * MIB });
  try {
    await assert.rejects(
      restoreJob({
        folder,
        targets: [{ device: card.loop.device }],
        intent: 'exact',
        grow: false,
        access: localCardAccess(),
      }),
      (e: AtlasError) => {
        assert.equal(e.code, 'IO_ERROR', e.message);
        // written through the page cache: the card refuses at the next flush, within 64 MiB of the bad place
        const where = '(at byte \\d+|between byte \\d+ and \\d+)';
        assert.match(e.message, new RegExp(`^Writing ${card.loop.device} ${where} \\(.* of .* restored\\)`));
        assert.ok((e.details.offset as number) <= 100 * MIB, JSON.stringify(e.details));
        return true;
      },
    );
  } finally {
    await card.close();
  }
});
