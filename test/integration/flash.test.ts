/**
 * Flash to loop devices, with the real tools as oracle: every source format written and verified, then
 * `cmp`-equal to the image; two cards from one read; a byte changed on the card before the read-back is
 * caught at its exact offset; a too-small card, a corrupt archive and a cancel leave no bootable half-card.
 */
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync, readSync, writeSync, constants } from 'node:fs';
import { join } from 'node:path';
import { flashJob, FLASH_HEAD } from '../../main/engine/jobs/flash';
import { isAtlasError } from '../../main/engine/errors';
import type { Progress } from '../../main/engine/progress';
import { attachLoop, type LoopDevice } from '../support/loop';
import { isRoot, run, scratchDir, shell, tryRun } from '../support/sh';
import { localCardAccess } from '../../main/engine/drives/index';

const skip = isRoot ? false : 'needs root for loop devices';
const IMG_MIB = 160;

let dir = '';
let cleanup = (): void => undefined;
let image = '';
const loops: LoopDevice[] = [];
const backing: string[] = [];

/** A card: a loop device over a file filled with a pattern, so leftovers are visible. */
function card(mib: number): { loop: LoopDevice; file: string } {
  const file = join(dir, `card${backing.length}.bin`);
  shell(`(yes CARDCARD || true) | head -c ${mib * 1024 * 1024} > ${file}`);
  const loop = attachLoop(file, { partitions: false });
  loops.push(loop);
  backing.push(file);
  return { loop, file };
}

function head(device: string, length = FLASH_HEAD): Buffer {
  const fd = openSync(device, 'r');
  try {
    const b = Buffer.alloc(length);
    readSync(fd, b, 0, length, 0);
    return b;
  } finally {
    closeSync(fd);
  }
}

function cmpEqual(a: string, b: string, bytes: number): void {
  const r = tryRun('cmp', ['-n', String(bytes), a, b]);
  assert.equal(r.status, 0, `cmp ${a} ${b}: ${r.stdout}${r.stderr}`);
}

before(() => {
  if (!isRoot) return;
  ({ dir, cleanup } = scratchDir('atlas-flash-'));
  image = join(dir, 'golden.img');
  shell(`IMG_MIB=${IMG_MIB} FAT_MIB=64 EXTRA_MIB=40 bash test/fixtures/make-armbian-image.sh ${image}`);
  shell(`cd ${dir} && pigz -k -c golden.img > golden.img.gz && xz -T0 -1 -k -c golden.img > golden.img.xz`);
  shell(`cd ${dir} && zstd -q -T0 -c golden.img > golden.img.zst && zip -q -1 golden.zip golden.img`);
});

after(() => {
  for (const l of loops) l.detach();
  cleanup();
});

for (const name of ['golden.img', 'golden.img.gz', 'golden.img.xz', 'golden.zip', 'golden.img.zst']) {
  test(`flash ${name} to a loop device, verified and cmp-equal`, { skip }, async () => {
    const { loop } = card(IMG_MIB + 16);
    const stages = new Set<string>();
    const result = await flashJob(
      {
        source: join(dir, name),
        targets: [{ device: loop.device }],
        eject: false,
        access: localCardAccess(),
      },
      { onProgress: (p: Progress) => stages.add(p.stage) },
    );
    assert.equal(result.ok, true);
    assert.equal(result.verified, true);
    assert.equal(result.imageSize, IMG_MIB * 1024 * 1024);
    assert.equal(result.targets[0]!.direct, true);
    assert.deepEqual([...stages], ['writing', 'verifying']);
    cmpEqual(image, loop.device, result.imageSize);
    assert.match(run('sfdisk', ['-d', loop.device]), /type=c|type=b/);
  });
}

test('two cards from one read of an .xz; a too-small third fails alone', { skip }, async () => {
  const a = card(IMG_MIB + 8);
  const b = card(IMG_MIB + 32);
  const small = card(IMG_MIB - 32);
  const reports: Progress[] = [];
  const result = await flashJob(
    {
      source: join(dir, 'golden.img.xz'),
      targets: [{ device: a.loop.device }, { device: small.loop.device }, { device: b.loop.device }],
      eject: false,
      access: localCardAccess(),
    },
    { onProgress: (p: Progress) => reports.push(p) },
  );
  assert.equal(result.ok, false);
  assert.deepEqual(
    result.targets.map((t) => [t.ok, t.verified]),
    [
      [true, true],
      [false, false],
      [true, true],
    ],
  );
  assert.equal(result.targets[1]!.error?.code, 'TARGET_TOO_SMALL');
  // the too-small card was never touched
  assert.equal(head(small.loop.device, 16).toString(), 'CARDCARD\nCARDCAR');
  cmpEqual(image, a.loop.device, result.imageSize);
  cmpEqual(image, b.loop.device, result.imageSize);

  // one bar per card: each card's states in order, its own bytes, and why one failed
  const states = (device: string): string[] => {
    const seen: string[] = [];
    for (const p of reports) {
      const c = p.cards?.find((x) => x.device === device);
      if (c && seen.at(-1) !== c.state) seen.push(c.state);
    }
    return seen;
  };
  assert.deepEqual(states(a.loop.device), ['writing', 'finishing', 'verifying', 'done']);
  assert.deepEqual(states(b.loop.device), ['writing', 'finishing', 'verifying', 'done']);
  assert.deepEqual(states(small.loop.device), ['failed']);
  const last = reports.at(-1)!.cards!;
  assert.equal(last.find((c) => c.device === small.loop.device)!.error?.code, 'TARGET_TOO_SMALL');
  const verified = last.find((c) => c.device === a.loop.device)!;
  assert.equal(verified.bytesDone, result.imageSize, "the card's bar counts the bytes read back");
  const lastWrite = reports.filter((p) => p.stage === 'writing').at(-1)!.cards!;
  assert.equal(lastWrite.find((c) => c.device === b.loop.device)!.bytesDone, result.imageSize);
});

test(
  'verification catches a byte changed on the card between write and verify, at its offset',
  { skip },
  async () => {
    const { loop, file } = card(IMG_MIB + 16);
    const offset = 77 * 1024 * 1024 + 12345;
    await assert.rejects(
      flashJob(
        {
          source: join(dir, 'golden.img.gz'),
          targets: [{ device: loop.device }],
          eject: false,
          access: localCardAccess(),
          testHooks: {
            beforeVerify: () => {
              // change the medium under the loop device (its backing file), not through the device's cache
              const fd = openSync(file, constants.O_RDWR);
              const b = Buffer.alloc(1);
              readSync(fd, b, 0, 1, offset);
              b[0] = b[0]! ^ 0x5a;
              writeSync(fd, b, 0, 1, offset);
              closeSync(fd);
            },
          },
        },
        {},
      ),
      (error: unknown) => {
        assert.ok(isAtlasError(error, 'VERIFY_MISMATCH'), String(error));
        assert.equal(error.details.offset, offset);
        assert.match(error.message, new RegExp(`byte ${offset}`));
        return true;
      },
    );
  },
);

test(
  'buffered mode (cache dropped before the read-back) also catches the changed byte',
  { skip },
  async () => {
    const { loop, file } = card(IMG_MIB + 16);
    const offset = 5 * 1024 * 1024 + 7;
    await assert.rejects(
      flashJob(
        {
          source: image,
          targets: [{ device: loop.device }],
          eject: false,
          access: localCardAccess(),
          directIO: false,
          testHooks: {
            beforeVerify: () => {
              const fd = openSync(file, constants.O_RDWR);
              writeSync(fd, Buffer.from([0xee]), 0, 1, offset);
              closeSync(fd);
            },
          },
        },
        {},
      ),
      (error: unknown) => isAtlasError(error, 'VERIFY_MISMATCH') && error.details.offset === offset,
    );
  },
);

test('an image larger than the card is refused before anything is written', { skip }, async () => {
  const { loop } = card(IMG_MIB - 16);
  await assert.rejects(
    flashJob(
      { source: image, targets: [{ device: loop.device }], eject: false, access: localCardAccess() },
      {},
    ),
    (error: unknown) => isAtlasError(error, 'TARGET_TOO_SMALL') && /smaller|needs|fit/.test(error.message),
  );
  assert.equal(head(loop.device, 8).toString(), 'CARDCARD');
});

test('a corrupt archive fails with CORRUPT_ARCHIVE and leaves no partition table', { skip }, async () => {
  const broken = join(dir, 'broken.img.gz');
  shell(
    `head -c 3000000 ${join(dir, 'golden.img.gz')} > ${broken}; head -c 200000 /dev/urandom >> ${broken}`,
  );
  const { loop } = card(IMG_MIB + 16);
  await assert.rejects(
    flashJob(
      { source: broken, targets: [{ device: loop.device }], eject: false, access: localCardAccess() },
      {},
    ),
    (error: unknown) => isAtlasError(error) && ['CORRUPT_ARCHIVE', 'TRUNCATED'].includes(error.code),
  );
  assert.ok(head(loop.device).equals(Buffer.alloc(FLASH_HEAD)), 'the first MiB is zeroed until the end');
});

test('cancel mid-write: CANCELLED, device closed, first MiB still zero', { skip }, async () => {
  const big = join(dir, 'big.img');
  shell(`cp ${image} ${big} && truncate -s 1G ${big}`);
  const { loop } = card(1024 + 16);
  const controller = new AbortController();
  await assert.rejects(
    flashJob(
      {
        source: big,
        targets: [{ device: loop.device }],
        eject: false,
        access: localCardAccess(),
        verify: true,
      },
      {
        signal: controller.signal,
        onProgress: (p) => {
          if (p.stage === 'writing' && p.bytesDone > 64 * 1024 * 1024) controller.abort();
        },
      },
    ),
    (error: unknown) => isAtlasError(error, 'CANCELLED'),
  );
  // closed: an exclusive open succeeds again
  closeSync(openSync(loop.device, constants.O_RDWR | constants.O_EXCL));
  assert.ok(head(loop.device).equals(Buffer.alloc(FLASH_HEAD)));
});

test(
  'used blocks only: the filesystems come out whole and clean, their free space keeps the old data',
  { skip },
  async () => {
    const { loop, file } = card(IMG_MIB + 16);
    const result = await flashJob(
      {
        source: image,
        targets: [{ device: loop.device }],
        eject: false,
        access: localCardAccess(),
        usedBlocksOnly: true,
      },
      {},
    );
    assert.equal(result.ok, true);
    assert.equal(result.verified, true);
    const used = result.usedBlocksOnly!;
    assert.equal(used.imageBytes, IMG_MIB * 1024 * 1024);
    assert.ok(
      used.bytesWritten < used.imageBytes * 0.8,
      `${used.bytesWritten} of ${used.imageBytes} written`,
    );
    // the partition table and the boot gap are the image's
    cmpEqual(image, loop.device, FLASH_HEAD);
    // free space was skipped: the old pattern is still there inside the image's range
    const leftovers = Number(shell(`head -c ${used.imageBytes} ${file} | grep -c CARDCARD || true`).trim());
    assert.ok(leftovers > 0, 'nothing of the old card is left: every block was written');
    // the oracle: fsck on both filesystems, and the same files as the image, byte for byte
    const cardCopy = join(dir, 'used-only.img');
    shell(`head -c ${used.imageBytes} ${file} > ${cardCopy}`);
    const ours = attachLoop(cardCopy);
    const theirs = attachLoop(image);
    loops.push(ours, theirs);
    assert.equal(tryRun('fsck.vfat', ['-n', ours.partition(1)]).status, 0);
    const e2 = tryRun('e2fsck', ['-fn', ours.partition(2)]);
    assert.equal(e2.status, 0, e2.stdout + e2.stderr);
    // FAT by mtools (no vfat in every kernel), ext4 mounted read-only
    const bootOurs = join(dir, 'boot-ours');
    const bootTheirs = join(dir, 'boot-theirs');
    const rootOurs = join(dir, 'root-ours');
    const rootTheirs = join(dir, 'root-theirs');
    shell(`mkdir -p ${bootOurs} ${bootTheirs} ${rootOurs} ${rootTheirs}`);
    shell(
      `mcopy -s -i ${ours.partition(1)} '::*' ${bootOurs}/ && mcopy -s -i ${theirs.partition(1)} '::*' ${bootTheirs}/`,
    );
    shell(`diff -r ${bootOurs} ${bootTheirs}`);
    try {
      shell(
        `mount -o ro,noload ${ours.partition(2)} ${rootOurs} && mount -o ro,noload ${theirs.partition(2)} ${rootTheirs}`,
      );
      shell(`diff -r --no-dereference ${rootOurs} ${rootTheirs}`);
    } finally {
      tryRun('umount', [rootOurs]);
      tryRun('umount', [rootTheirs]);
    }
  },
);

test(
  'used blocks only needs a raw image: an archive is refused before the card is touched',
  { skip },
  async () => {
    const { loop } = card(IMG_MIB + 16);
    await assert.rejects(
      flashJob(
        {
          source: join(dir, 'golden.img.xz'),
          targets: [{ device: loop.device }],
          eject: false,
          access: localCardAccess(),
          usedBlocksOnly: true,
        },
        {},
      ),
      (error: unknown) => isAtlasError(error, 'INVALID_ARGUMENT') && /raw \.img/.test(error.message),
    );
    assert.equal(head(loop.device, 8).toString(), 'CARDCARD');
  },
);
