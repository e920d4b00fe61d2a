/**
 * A deploy onto five cards of which three are faulty (test/support/fault-card.ts): one refuses writes past a
 * byte, one vanishes mid-write, one flips a byte when read back. Each faulty card fails alone, its error naming
 * the card, the operation and the byte; the two good cards are written, verified and re-armed; each card's bar
 * ends in its own state.
 */
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { restoreJob, type RestoreResult } from '../../main/engine/jobs/restore';
import { HASH_SEGMENT } from '../../main/engine/jobs/restore/write';
import { localCardAccess } from '../../main/engine/drives/index';
import { BlockHasher } from '../../main/engine/io/hash-pool';
import type { CardProgress } from '../../main/engine/progress';
import { makeFaultCard, type FaultCard } from '../support/fault-card';
import { attachLoop, type LoopDevice } from '../support/loop';
import { bootedClone, debugfsCat, fsckClean, partitionStart } from '../support/deploy-fixture';
import { isRoot, run, scratchDir } from '../support/sh';

const skip = isRoot ? false : 'needs root for loop devices and FUSE';
const MIB = 1024 * 1024;
const CARD_BYTES = 224 * MIB;
let dir = '';
let cleanup = (): void => undefined;
let folder = '';
let root = 0;
const good: LoopDevice[] = [];
const faulty: FaultCard[] = [];

before(async () => {
  if (!isRoot) return;
  ({ dir, cleanup } = scratchDir('atlas-faults-deploy-'));
  const made = await bootedClone(dir, 'FAULTS');
  folder = made.folder;
  root = partitionStart(made.image, 2);
  for (const name of ['good1', 'good2']) {
    run('truncate', ['-s', String(CARD_BYTES), join(dir, `${name}.img`)]);
    good.push(attachLoop(join(dir, `${name}.img`), { partitions: false }));
  }
});

after(async () => {
  for (const l of good) l.detach();
  for (const f of faulty) await f.close();
  cleanup();
});

test(
  'three faulty cards in a five-card deploy each fail alone; the good cards verify',
  { skip },
  async () => {
    const eioAt = root + 8 * MIB;
    const flipAt = 4 * MIB + 100; // the boot partition's first sector, always written
    const eio = await makeFaultCard(join(dir, 'eio'), CARD_BYTES, { eioWriteFrom: eioAt });
    faulty.push(eio);
    const vanishing = await makeFaultCard(join(dir, 'vanish'), CARD_BYTES, { vanishAfterBytes: 16 * MIB });
    faulty.push(vanishing);
    const flipping = await makeFaultCard(join(dir, 'flip'), CARD_BYTES, { flipOnReadAt: flipAt });
    faulty.push(flipping);
    const devices = [
      good[0]!.device,
      eio.loop.device,
      vanishing.loop.device,
      flipping.loop.device,
      good[1]!.device,
    ];
    let last: CardProgress[] = [];
    // the read-back reads and hashes each piece in one step (hash-pool.ts): count that it ran, so the flipped
    // byte below is caught on that path, not only on the read-then-hash one a wrapped handle takes
    const readThenHash = BlockHasher.prototype.readThenHash;
    let fused = 0;
    BlockHasher.prototype.readThenHash = function (this: BlockHasher, ...args) {
      const reading = readThenHash.apply(this, args);
      if (reading) fused += 1;
      return reading;
    };
    const result: RestoreResult = await restoreJob(
      {
        folder,
        targets: devices.map((device, i) => ({ device, hostname: `kiosk-${i + 1}` })),
        intent: 'deploy',
        grow: false,
        eject: false,
        access: localCardAccess(),
      },
      { onProgress: (p) => (last = p.cards ?? last) },
    ).finally(() => (BlockHasher.prototype.readThenHash = readThenHash));
    assert.ok(fused > 0, 'the read-back never read and hashed in one step');
    assert.equal(result.ok, false);
    const [g1, bad, gone, flipped, g2] = result.targets;

    assert.equal(bad!.ok, false);
    assert.equal(bad!.error?.code, 'IO_ERROR', bad!.error?.message);
    assert.match(
      bad!.error!.message,
      new RegExp(`^Writing ${eio.loop.device} at byte \\d+ \\(.* of .* restored\\)`),
    );
    const badAt = bad!.error!.details.offset as number;
    assert.ok(badAt <= eioAt && badAt > eioAt - 4 * MIB, JSON.stringify(bad!.error));

    assert.equal(gone!.ok, false);
    assert.match(gone!.error!.message, new RegExp(`^Writing ${vanishing.loop.device} at byte \\d+ \\(`));
    assert.ok((gone!.error!.details.written as number) <= 16 * MIB, JSON.stringify(gone!.error));

    assert.equal(flipped!.ok, false);
    assert.equal(flipped!.error?.code, 'VERIFY_MISMATCH', flipped!.error?.message);
    assert.match(flipped!.error!.message, new RegExp(`^Verification failed on ${flipping.loop.device}`));
    const flipPiece = flipped!.error!.details.offset as number;
    assert.ok(flipPiece <= flipAt && flipAt < flipPiece + HASH_SEGMENT, JSON.stringify(flipped!.error));
    assert.equal(flipped!.verified, false);
    assert.deepEqual(flipped!.identityChanges, [], 'a card that failed is not re-armed');

    for (const [t, name, i] of [
      [g1!, 'good1', 1],
      [g2!, 'good2', 5],
    ] as const) {
      assert.equal(t.ok, true, t.error?.message);
      assert.equal(t.verified, true);
      const image = join(dir, `${name}.img`);
      fsckClean(image, attachLoop);
      assert.equal(debugfsCat(image, root, '/etc/hostname'), `kiosk-${i}`);
      assert.equal(debugfsCat(image, root, '/etc/machine-id'), '');
    }
    assert.deepEqual(
      last.map((c) => c.state),
      ['done', 'failed', 'failed', 'failed', 'done'],
    );
  },
);
