/**
 * A deploy onto five cards of which three are faulty (test/support/fault-card.ts): one refuses writes past a
 * byte, one is pulled out mid-write (its device node disappears, then its I/O fails), one flips a byte when read
 * back. Each faulty card fails alone, its error naming the card, the operation and the byte (the pulled one: that
 * it went away); the two good cards are written, verified and re-armed; each card's bar ends in its own state.
 */
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { restoreJob, type RestoreResult } from '../../main/engine/jobs/restore';
import { HASH_SEGMENT } from '../../main/engine/jobs/restore/write';
import { localCardAccess } from '../../main/engine/drives/index';
import { BlockHasher } from '../../main/engine/io/hash-pool';
import type { CardProgress } from '../../main/engine/progress';
import { makeFaultCard, type FaultCard } from '../support/fault-card';
import { attachLoop, type LoopDevice } from '../support/loop';
import {
  bootedClone,
  debugfsCat,
  debugfsStat,
  fsckClean,
  partitionStart,
  SOURCE_HOST_KEYS,
} from '../support/deploy-fixture';
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
  // every card closed (the pulled one's node put back) even when one of them fails to
  const closed = await Promise.allSettled(faulty.map((f) => f.close()));
  cleanup();
  for (const c of closed) if (c.status === 'rejected') throw c.reason;
});

test(
  'three faulty cards in a five-card deploy each fail alone; the good cards verify',
  { skip },
  async () => {
    const eioAt = root + 8 * MIB;
    const flipAt = 4 * MIB + 100; // the boot partition's first sector, always written
    const eio = await makeFaultCard(join(dir, 'eio'), CARD_BYTES, { eioWriteFrom: eioAt });
    faulty.push(eio);
    // pulled once this many bytes are on it; slowed so that a progress report (every 200 ms) sees it get there
    const pullAt = 4 * MIB;
    const vanishing = await makeFaultCard(join(dir, 'vanish'), CARD_BYTES, {
      throttleBytesPerSecond: 16 * MIB,
    });
    faulty.push(vanishing);
    const node = statSync(vanishing.loop.device);
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
    let pulled: CardProgress | null = null;
    const onProgress = (cards: CardProgress[]): void => {
      last = cards;
      const c = cards.find((x) => x.device === vanishing.loop.device);
      if (!pulled && c?.state === 'writing' && c.bytesDone >= pullAt) {
        pulled = c;
        vanishing.pull();
      }
    };
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
      { onProgress: (p) => onProgress(p.cards ?? last) },
    ).finally(() => {
      BlockHasher.prototype.readThenHash = readThenHash;
      vanishing.reinsert();
    });
    // the node is back as it was, so detaching the loop device and the machine's /dev are as before
    const back = statSync(vanishing.loop.device);
    assert.deepEqual(
      [back.isBlockDevice(), back.rdev, back.mode, back.uid, back.gid],
      [true, node.rdev, node.mode, node.uid, node.gid],
    );
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

    assert.ok(pulled, 'the card was never seen writing past the byte it is pulled at');
    assert.equal(gone!.ok, false);
    assert.equal(gone!.error?.code, 'DRIVE_REMOVED', gone!.error?.message);
    assert.match(
      gone!.error!.message,
      new RegExp(
        `^${vanishing.loop.device} went away while writing it at byte \\d+ \\(.* of .* restored\\)\\. Was the card removed\\?$`,
      ),
    );
    const goneAt = gone!.error!.details;
    assert.equal(goneAt.device, vanishing.loop.device);
    assert.ok((goneAt.written as number) >= pullAt, JSON.stringify(goneAt));
    assert.ok((goneAt.written as number) < g1!.bytesWritten, JSON.stringify(goneAt));
    assert.equal(gone!.verified, false);
    assert.deepEqual(gone!.identityChanges, [], 'a card that failed is not re-armed');

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
      const machineId = debugfsStat(image, root, '/etc/machine-id');
      assert.deepEqual([machineId?.type, machineId?.size], ['regular', 0], `${name}: /etc/machine-id`);
      for (const key of SOURCE_HOST_KEYS)
        assert.equal(debugfsStat(image, root, key), null, `${name}: ${key}`);
      assert.equal(
        debugfsStat(image, root, '/etc/systemd/system/multi-user.target.wants/armbian-firstrun.service')
          ?.type,
        'symlink',
        `${name}: armbian-firstrun enabled`,
      );
      assert.ok(t.identityChanges.length > 0, `${name}: re-armed`);
    }
    assert.deepEqual(
      last.map((c) => c.state),
      ['done', 'failed', 'failed', 'failed', 'done'],
    );
  },
);
