/**
 * Flash onto faulty cards (test/support/fault-card.ts: a FUSE file under a loop device, its faults set by the
 * test): a write error, a flipped byte on read, a fake-capacity card that wraps around, a card that vanishes
 * mid-write, a slow card. Each error names the card, the operation, the byte and how far the job got; a good card
 * flashed beside a faulty one still completes and verifies.
 */
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { flashJob, type FlashResult } from '../../main/engine/jobs/flash';
import { localCardAccess } from '../../main/engine/drives/index';
import { isAtlasError, type AtlasError } from '../../main/engine/errors';
import type { Progress } from '../../main/engine/progress';
import { attachLoop, type LoopDevice } from '../support/loop';
import { makeFaultCard, type FaultCard, type Faults } from '../support/fault-card';
import { scratchDir, shell, tryRun } from '../support/sh';

const MIB = 1024 * 1024;
const IMG_MIB = 64;
let dir = '';
let cleanup = (): void => undefined;
let image = '';
let n = 0;

before(() => {
  ({ dir, cleanup } = scratchDir('atlas-faults-flash-'));
  image = join(dir, 'image.img');
  shell(`head -c ${IMG_MIB * MIB} /dev/urandom > ${image}`);
});
after(() => cleanup());

async function withFaultCard<T>(
  faults: Faults,
  body: (card: FaultCard) => Promise<T>,
  mib = 128,
): Promise<T> {
  const card = await makeFaultCard(join(dir, `card${n++}`), mib * MIB, faults);
  try {
    return await body(card);
  } finally {
    await card.close();
  }
}

function goodCard(): LoopDevice {
  const file = join(dir, `good${n++}.bin`);
  shell(`truncate -s ${128 * MIB} ${file}`);
  return attachLoop(file, { partitions: false });
}

function flash(
  devices: string[],
  control: { signal?: AbortSignal; onProgress?: (p: Progress) => void } = {},
) {
  return flashJob(
    {
      source: image,
      targets: devices.map((device) => ({ device })),
      verify: true,
      eject: false,
      access: localCardAccess(),
    },
    control,
  );
}

test('a write error: the card, the operation, the byte and how much was written are named', async () => {
  await withFaultCard({ eioWriteFrom: 40 * MIB + 4096 }, async (card) => {
    await assert.rejects(flash([card.loop.device]), (e: AtlasError) => {
      assert.equal(e.code, 'IO_ERROR', e.message);
      assert.match(
        e.message,
        new RegExp(`^Writing ${card.loop.device} at byte \\d+ \\(\\d+(\\.\\d+)? MiB of the image written\\)`),
      );
      const offset = e.details.offset as number;
      assert.ok(offset <= 40 * MIB + 4096 && 40 * MIB + 4096 < offset + 4 * MIB, `offset ${offset}`);
      return true;
    });
  });
});

test('beside a card that fails, a good card is written and verified', async () => {
  const good = goodCard();
  try {
    await withFaultCard({ eioWriteFrom: 20 * MIB }, async (card) => {
      const r: FlashResult = await flash([card.loop.device, good.device]);
      assert.equal(r.ok, false);
      const bad = r.targets.find((t) => t.device === card.loop.device)!;
      const fine = r.targets.find((t) => t.device === good.device)!;
      assert.equal(bad.error?.code, 'IO_ERROR');
      assert.ok(fine.ok && fine.verified, JSON.stringify(fine));
      assert.equal(tryRun('cmp', ['-n', String(IMG_MIB * MIB), image, good.device]).status, 0);
    });
  } finally {
    good.detach();
  }
});

test('a byte flipped on read is caught at its exact offset', async () => {
  const at = 30 * MIB + 12345;
  await withFaultCard({ flipOnReadAt: at }, async (card) => {
    await assert.rejects(flash([card.loop.device]), (e: AtlasError) => {
      assert.equal(e.code, 'VERIFY_MISMATCH', e.message);
      assert.equal(e.details.offset, at);
      assert.match(e.message, new RegExp(`${card.loop.device}.*byte ${at}`));
      return true;
    });
  });
});

test('a fake-capacity card is called what it is, with its probable real size', async () => {
  await withFaultCard({ realCapacity: 16 * MIB }, async (card) => {
    await assert.rejects(flash([card.loop.device]), (e: AtlasError) => {
      assert.equal(e.code, 'FAKE_CAPACITY', e.message);
      assert.equal(e.details.realBytes, 16 * MIB);
      assert.equal(e.details.claimedBytes, 128 * MIB);
      assert.match(e.message, /fake-capacity card.*claims 128(\.0)? MiB.*about 16(\.0)? MiB.*Do not use it/);
      return true;
    });
  });
});

test('a card that vanishes mid-write: the error says where, and the job ends', async () => {
  await withFaultCard({ vanishAfterBytes: 24 * MIB }, async (card) => {
    await assert.rejects(flash([card.loop.device]), (e: AtlasError) => {
      assert.ok(isAtlasError(e) && /IO_ERROR|DRIVE_REMOVED/.test(e.code), e.message);
      assert.match(e.message, /at byte \d+/);
      assert.ok((e.details.offset as number) <= 24 * MIB + 4 * MIB, JSON.stringify(e.details));
      return true;
    });
  });
});

test('a slow card: progress and ETA stay sane, and cancel stops it promptly', async () => {
  const rate = 8 * MIB;
  await withFaultCard({ throttleBytesPerSecond: rate }, async (card) => {
    const controller = new AbortController();
    const seen: Progress[] = [];
    let cancelledAt = 0;
    const run = flash([card.loop.device], {
      signal: controller.signal,
      onProgress: (p) => {
        seen.push(p);
        if (p.stage === 'writing' && p.bytesDone >= 12 * MIB && !cancelledAt) {
          cancelledAt = performance.now();
          controller.abort();
        }
      },
    });
    await assert.rejects(run, (e: AtlasError) => isAtlasError(e, 'CANCELLED'));
    const took = performance.now() - cancelledAt;
    const writing = seen.filter((p) => p.stage === 'writing' && p.bytesDone > 4 * MIB);
    assert.ok(writing.length > 0);
    for (const p of writing) {
      // the reported speed is the card's (within a factor for the first window), the ETA what is left at it
      assert.ok(p.rate > 0 && p.rate < rate * 3, `rate ${p.rate}`);
      assert.ok(p.etaSeconds !== null && p.etaSeconds > 0, `eta ${p.etaSeconds}`);
    }
    // two 4 MiB blocks in flight at 8 MiB/s: the writes already queued finish, nothing more starts
    assert.ok(took < 3000, `cancel took ${Math.round(took)} ms`);
  });
});
