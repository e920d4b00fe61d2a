/**
 * Every read and write of a card is whole sectors, on every platform: the jobs run here against cards that refuse
 * anything else (test/support/raw-card.ts, what macOS's /dev/rdiskN does, without O_DIRECT as on a Mac), and with
 * O_DIRECT against a loop device with 4 KiB logical sectors, with images whose size is not whole sectors.
 */
import test, { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { localCardAccess } from '../../main/engine/drives/index';
import { blockFileOf, openDirect, readFully, alignedBuffer } from '../../main/engine/io/direct';
import { flashJob } from '../../main/engine/jobs/flash';
import { checkCard } from '../../main/engine/jobs/check-card';
import { cloneJob } from '../../main/engine/jobs/clone';
import { restoreJob } from '../../main/engine/jobs/restore';
import { verifyCloneFolder } from '../../main/engine/jobs/verify';
import { makeArmbianImage } from '../support/armbian';
import { e2fsckClean, rejection } from '../support/assert';
import { attachLoop, type LoopDevice } from '../support/loop';
import { newRawCardLog, rawCard, rawCardAccess, type RawCardLog } from '../support/raw-card';
import { isRoot, run, scratchDir, shell, tryRun } from '../support/sh';

const skip = isRoot ? false : 'needs root for loop devices';
const MIB = 1024 * 1024;
// two flash blocks, the second ending 1234 bytes into a sector: neither whole 512- nor 4096-byte sectors
const ODD = 5 * MIB + 1234;

let dir = '';
let cleanup = (): void => undefined;
const loops: LoopDevice[] = [];
const files: string[] = [];
let image = '';

/** A card over a file filled with a pattern, so what the job did not write stays visible. */
function card(mib: number, options: { sectorSize?: number } = {}): { device: string; file: string } {
  const file = join(dir, `card${files.length}.bin`);
  files.push(file);
  shell(`(yes CARDCARD || true) | head -c ${mib * MIB} > ${file}`);
  if (options.sectorSize) {
    const device = run('losetup', ['-f', '--show', '--sector-size', String(options.sectorSize), file]).trim();
    loops.push({
      device,
      partition: (k) => `${device}p${k}`,
      detach: () => tryRun('losetup', ['-d', device]),
    });
    return { device, file };
  }
  const loop = attachLoop(file, { partitions: false });
  loops.push(loop);
  return { device: loop.device, file };
}

function assertWroteImage(cardFile: string, log: RawCardLog, sector: number): void {
  assert.deepEqual(log.refused, [], 'a read or write was not whole sectors');
  assert.ok(log.writes > 0 && log.reads > 0);
  const bytes = readFileSync(cardFile);
  assert.ok(bytes.subarray(0, ODD).equals(readFileSync(image)), 'the card holds the image');
  // the rest of the tail sector keeps what the card held there
  const tailEnd = Math.ceil(ODD / sector) * sector;
  const pattern = Buffer.from('CARDCARD\n'.repeat(Math.ceil(tailEnd / 9))).subarray(ODD, tailEnd);
  assert.ok(bytes.subarray(ODD, tailEnd).equals(pattern), 'the tail sector past the image is kept');
}

before(() => {
  if (!isRoot) return;
  ({ dir, cleanup } = scratchDir('atlas-raw-card-'));
  image = join(dir, 'odd.img');
  shell(`head -c ${ODD} /dev/urandom > ${image} && pigz -k -c ${image} > ${image}.gz`);
});

after(() => {
  for (const l of loops.splice(0)) l.detach();
  cleanup();
});

test(
  'a raw card refuses a read or write that is not whole sectors, as /dev/rdiskN does',
  { skip },
  async () => {
    const { device } = card(4);
    const log = newRawCardLog();
    const dev = rawCard(await openDirect(device, { write: true, direct: false }), log);
    try {
      const buffer = alignedBuffer(4096, [dev]);
      await assert.rejects(readFully(dev, buffer, 100, 0), { code: 'EINVAL' });
      await assert.rejects(readFully(dev, buffer, 512, 100), { code: 'EINVAL' });
      assert.equal(await readFully(dev, buffer, 1024, 512), 1024);
      assert.equal(log.refused.length, 2);
    } finally {
      await dev.handle.close();
    }
  },
);

test('blockFileOf reads and writes any range of a raw card in whole sectors', { skip }, async () => {
  const { device, file } = card(4);
  const log = newRawCardLog();
  const dev = rawCard(await openDirect(device, { write: true, direct: false }), log);
  const before = readFileSync(file);
  try {
    const blocks = blockFileOf(dev);
    const got = Buffer.alloc(700);
    assert.equal(await blocks.read(got, 1000, 700), 700);
    assert.ok(got.equals(before.subarray(1000, 1700)));
    // inside one sector, across two, and from a sector boundary to the middle of one
    for (const [at, length] of [
      [300, 100],
      [1000, 700],
      [4096, 1000],
    ] as const) {
      await blocks.write(Buffer.alloc(length, 0x5a), at, length);
      before.fill(0x5a, at, at + length);
    }
    // the end of the card: a read asked past it stops there
    const tail = Buffer.alloc(1000);
    assert.equal(await blocks.read(tail, dev.size - 300, 1000), 300);
    await dev.handle.datasync();
  } finally {
    await dev.handle.close();
  }
  assert.deepEqual(log.refused, []);
  assert.ok(readFileSync(file).equals(before), 'only the bytes written changed');
});

for (const source of ['odd.img', 'odd.img.gz']) {
  test(`flash ${source} (not whole sectors) to a raw card without O_DIRECT, verified`, { skip }, async () => {
    const target = card(16);
    const log = newRawCardLog();
    const result = await flashJob({
      source: join(dir, source),
      targets: [{ device: target.device }],
      eject: false,
      access: rawCardAccess(log),
    });
    assert.equal(result.ok, true, JSON.stringify(result.targets[0]?.error));
    assert.equal(result.verified, true);
    assert.equal(result.targets[0]!.direct, false);
    assertWroteImage(target.file, log, 512);
  });
}

test('flash with O_DIRECT to a card with 4 KiB sectors, the image not whole sectors', { skip }, async () => {
  const target = card(16, { sectorSize: 4096 });
  assert.equal(run('blockdev', ['--getss', target.device]).trim(), '4096');
  const log = newRawCardLog();
  const local = localCardAccess();
  const result = await flashJob({
    source: image,
    targets: [{ device: target.device }],
    eject: false,
    access: {
      ...local,
      open: async (path, how) => {
        const dev = await local.open(path, how);
        assert.equal(dev.sectorSize, 4096);
        return rawCard(dev, log);
      },
    },
  });
  assert.equal(result.ok, true, JSON.stringify(result.targets[0]?.error));
  assert.equal(result.targets[0]!.direct, true);
  assertWroteImage(target.file, log, 4096);
});

test(
  'a card that differs after writing is a verify mismatch, its read-backs whole sectors',
  { skip },
  async () => {
    const target = card(16);
    const log = newRawCardLog();
    const error = await rejection(
      flashJob({
        source: image,
        targets: [{ device: target.device }],
        eject: false,
        access: rawCardAccess(log),
        testHooks: {
          beforeVerify: () => {
            // one byte of the first block changed: the read-back looks at the next ones too (a wrapping card?)
            const fd = openSync(target.device, 'r+');
            writeSync(fd, Buffer.from([0xff ^ readFileSync(image)[2 * MIB]!]), 0, 1, 2 * MIB);
            closeSync(fd);
          },
        },
      }),
    );
    assert.equal(error.code, 'VERIFY_MISMATCH', error.message);
    assert.deepEqual(log.refused, []);
  },
);

test('check-card on a raw card without O_DIRECT: genuine, its bytes put back', { skip }, async () => {
  const target = card(64);
  const before = readFileSync(target.file);
  const log = newRawCardLog();
  const dev = await rawCardAccess(log).open(target.device, { write: true, direct: true });
  try {
    const result = await checkCard(dev);
    assert.equal(result.verdict, 'genuine');
    assert.equal(result.restored, true);
  } finally {
    await dev.handle.close();
  }
  assert.deepEqual(log.refused, []);
  assert.ok(readFileSync(target.file).equals(before));
});

describe('clone and restore of raw cards', { skip }, () => {
  let source: LoopDevice;
  let folder = '';
  const log = newRawCardLog();

  before(async () => {
    const img = join(dir, 'armbian.img');
    makeArmbianImage(img, { imgMib: 160, fatMib: 64, extraMib: 8 });
    source = attachLoop(img);
    loops.push(source);
    folder = (await cloneJob({ source: source.device, outDir: dir, tag: 'raw', access: rawCardAccess(log) }))
      .folder;
  });

  test('the clone reads the card in whole sectors and holds what a buffered clone holds', async () => {
    assert.deepEqual(log.refused, []);
    assert.equal((await verifyCloneFolder(folder)).images.length, 2);
    const buffered = (
      await cloneJob({ source: source.device, outDir: dir, tag: 'buffered', access: localCardAccess() })
    ).folder;
    const name = source.device.replace('/dev/', '');
    for (const part of [`${name}p1-boot`, `${name}p2-root`]) {
      const sum = (f: string): string => shell(`pigz -dc '${f}/${part}.partclone.gz' | sha256sum`);
      assert.equal(sum(folder), sum(buffered), part);
    }
  });

  test('restore writes a raw card in whole sectors; its filesystems check clean', async () => {
    const target = card(192);
    const restoreLog = newRawCardLog();
    const result = await restoreJob({
      folder,
      targets: [{ device: target.device }],
      intent: 'exact',
      grow: false,
      eject: false,
      access: rawCardAccess(restoreLog),
    });
    assert.equal(result.ok, true, JSON.stringify(result.targets[0]?.error));
    assert.deepEqual(restoreLog.refused, []);
    const table = run('sfdisk', ['-d', target.device]);
    const start = Number(/start=\s*(\d+).*type=83/.exec(table)?.[1]);
    e2fsckClean(target.file, start * 512);
  });
});
