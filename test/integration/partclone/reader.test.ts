/**
 * The streaming reader against real partclone 0.3.23 images (v2 and its variants, a v1 file built from the
 * format description) and against damaged copies of them; partclone.info / chkimg / -r are the oracle.
 */
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import {
  closeSync,
  createReadStream,
  openSync,
  readFileSync,
  readSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import {
  openPartcloneStream,
  pcCrc32,
  readPartcloneInfo,
  verifyPartcloneStream,
  type PartcloneStreamReader,
} from '../../../main/engine/partclone';
import { openMaybeGzipped } from '../../../main/engine/compress/gunzip';
import { usedRuns } from '../../../main/engine/fs/bitmap';
import { makePartcloneSamples, partcloneClone, type PartcloneSample } from '../../support/partclone-samples';
import { run, scratchDir, shell, tryRun } from '../../support/sh';
import { flipBits } from '../../support/assert';

let scratch: ReturnType<typeof scratchDir>;
let samples: PartcloneSample[];
const sample = (name: PartcloneSample['name']) => samples.find((s) => s.name === name)!;

before(() => {
  scratch = scratchDir('atlas-pcr-');
  samples = makePartcloneSamples(scratch.dir);
});
after(() => scratch.cleanup());

type Coded = Error & { code?: string; details?: Record<string, unknown> };
const code = (c: string) => (e: Coded) => e.code === c;

/** Writes every run at its block offset in a new zero file of the filesystem's size; returns the file. */
async function restoreToFile(
  reader: PartcloneStreamReader,
  out: string,
): Promise<{ runs: number; blocks: number }> {
  const B = reader.header.blockSize;
  const fd = openSync(out, 'w');
  let runs = 0;
  let blocks = 0;
  try {
    for await (const r of reader.runs()) {
      assert.equal(r.data.length, r.count * B);
      writeSync(fd, r.data, 0, r.data.length, r.firstBlock * B);
      runs++;
      blocks += r.count;
    }
  } finally {
    closeSync(fd);
  }
  run('truncate', ['-s', String(reader.header.totalBlocks * B), out]);
  return { runs, blocks };
}

/** Every used block of `restored` equals the source's; unused blocks are zero (they were never written). */
function assertUsedBlocksEqual(
  bitmap: Uint8Array,
  totalBlocks: number,
  B: number,
  source: string,
  restored: string,
): number {
  const a = readFileSync(source);
  const b = readFileSync(restored);
  let compared = 0;
  for (const { first: start, count } of usedRuns({ bitmap, totalBlocks })) {
    const x = a.subarray(start * B, (start + count) * B);
    const y = b.subarray(start * B, (start + count) * B);
    assert.ok(x.equals(y), `blocks ${start}..${start + count - 1} differ`);
    compared += count;
  }
  return compared;
}

/** partclone.info prints on stderr. */
function partcloneInfo(pc: string): string {
  const r = tryRun('partclone.info', ['-s', pc, '-L', `${pc}.info.log`]);
  assert.equal(r.status, 0, r.stderr);
  return r.stdout + r.stderr;
}

function infoBlocksInUse(pc: string): number {
  const out = partcloneInfo(pc);
  return Number(/Space in use:.*= (\d+) Blocks/.exec(out)![1]);
}

for (const name of ['ext4-1k', 'ext4-4k', 'fat32'] as const) {
  test(`reader restores ${name} from partclone's image: every used block equals the source`, async () => {
    const s = sample(name);
    const reader = await openPartcloneStream(createReadStream(s.pc), { maxRunBytes: 1024 * 1024 });
    assert.equal(reader.header.formatVersion, 2);
    assert.equal(reader.header.partcloneVersion, '0.3.23');
    assert.equal(reader.usedBlocks, infoBlocksInUse(s.pc));
    assert.equal(reader.imageSize, readFileSync(s.pc).length);
    const out = join(scratch.dir, `${name}.restored`);
    const { runs, blocks } = await restoreToFile(reader, out);
    assert.equal(blocks, reader.usedBlocks);
    assert.ok(runs > 1);
    const compared = assertUsedBlocksEqual(
      reader.bitmap,
      reader.header.totalBlocks,
      reader.header.blockSize,
      s.image,
      out,
    );
    assert.equal(compared, reader.usedBlocks);
  });
}

/** The file in chunks of `size` bytes (odd, so blocks straddle them), each chunk its own memory. */
function oddChunks(
  path: string,
  size: number,
): { source: AsyncIterable<Buffer>; memory: Set<ArrayBufferLike> } {
  const bytes = readFileSync(path);
  const memory = new Set<ArrayBufferLike>();
  async function* source() {
    for (let at = 0; at < bytes.length; at += size) {
      const chunk = Buffer.from(Uint8Array.prototype.slice.call(bytes, at, at + size));
      memory.add(chunk.buffer);
      yield chunk;
    }
  }
  return { source: source(), memory };
}

for (const name of ['ext4-1k', 'ext4-4k', 'fat32'] as const) {
  test(`views: ${name} restores the same blocks from views of the stream, copying only blocks across chunks`, async () => {
    const s = sample(name);
    const { source, memory } = oddChunks(s.pc, 3 * 65536 + 1234);
    const reader = await openPartcloneStream(source, { views: true });
    const B = reader.header.blockSize;
    const out = join(scratch.dir, `${name}.views.restored`);
    const fd = openSync(out, 'w');
    let views = 0;
    let copies = 0;
    try {
      for await (const r of reader.runs()) {
        assert.equal(r.data.length, r.count * B);
        if (memory.has(r.data.buffer)) views += r.count;
        else {
          assert.equal(r.count, 1, 'only a block across two chunks is copied');
          copies += 1;
        }
        writeSync(fd, r.data, 0, r.data.length, r.firstBlock * B);
      }
    } finally {
      closeSync(fd);
    }
    run('truncate', ['-s', String(reader.header.totalBlocks * B), out]);
    assert.equal(views + copies, reader.usedBlocks);
    assert.ok(copies <= Math.ceil(reader.imageSize / (3 * 65536 + 1234)), `${copies} blocks copied`);
    assertUsedBlocksEqual(reader.bitmap, reader.header.totalBlocks, B, s.image, out);
  });
}

for (const name of ['ext4-1k', 'ext4-4k', 'fat32'] as const) {
  test(`views with release: ${name}'s memory goes back only once no run still views it`, async () => {
    const s = sample(name);
    const { source, memory } = oddChunks(s.pc, 3 * 65536 + 1234);
    const released: ArrayBufferLike[] = [];
    // the source reuses what comes back at once: scribbled over, a view still due would restore wrong bytes
    const release = (m: ArrayBufferLike) => {
      released.push(m);
      new Uint8Array(m).fill(0xa5);
    };
    const reader = await openPartcloneStream(source, { views: true, release });
    const out = join(scratch.dir, `${name}.released.restored`);
    // each run written before the next is asked for, as restore's writer does
    await restoreToFile(reader, out);
    assertUsedBlocksEqual(reader.bitmap, reader.header.totalBlocks, reader.header.blockSize, s.image, out);
    // every chunk of the data went back once (those read up to the bitmap's end are not lent out)
    const lent = released.filter((m) => memory.has(m));
    assert.equal(new Set(lent).size, lent.length, 'no memory released twice');
    assert.ok(lent.length >= memory.size - Math.ceil((reader.dataOffset + 1) / (3 * 65536 + 1234)) - 1);
  });
}

test('runs are coalesced: consecutive used blocks come as one run up to the run size', async () => {
  const s = sample('ext4-1k');
  const reader = await openPartcloneStream(createReadStream(s.pc));
  const got: Array<{ first: number; count: number }> = [];
  for await (const r of reader.runs()) got.push({ first: r.firstBlock, count: r.count });
  const maxBlocks = (8 * 1024 * 1024) / reader.header.blockSize;
  assert.deepEqual(got, [
    ...usedRuns({ bitmap: reader.bitmap, totalBlocks: reader.header.totalBlocks }, maxBlocks),
  ]);
  assert.ok(
    got.some((r) => r.count > 1024),
    'runs longer than a checksum group',
  );
});

test('variants partclone makes (-a 0, -k 1 -K, -k 3, -k 5000) read and verify, and agree with chkimg', async () => {
  const s = sample('ext4-4k');
  for (const args of [
    ['-a', '0'],
    ['-k', '1', '-K'],
    ['-k', '3'],
    ['-k', '5000'],
    ['-k', '64', '-K'],
  ]) {
    const pc = join(scratch.dir, `v${args.join('')}.pc`);
    partcloneClone(s.tool, s.image, pc, args);
    const reader = await openPartcloneStream(createReadStream(pc), { maxRunBytes: 100_000 });
    const out = `${pc}.restored`;
    await restoreToFile(reader, out);
    assertUsedBlocksEqual(reader.bitmap, reader.header.totalBlocks, reader.header.blockSize, s.image, out);
    if (args[0] === '-a') assert.equal(reader.header.checksumSize, 0);
    if (args.includes('-K')) assert.equal(reader.header.reseedChecksum, false);
    await verifyPartcloneStream(createReadStream(pc));
  }
});

test('verify agrees with partclone.chkimg on good and damaged files', async () => {
  for (const s of samples) {
    assert.equal(tryRun('partclone.chkimg', ['-s', s.pc, '-L', `${s.pc}.chk.log`]).status, 0);
    const result = await verifyPartcloneStream(createReadStream(s.pc));
    assert.equal(result.usedBlocks, infoBlocksInUse(s.pc));
  }
  const s = sample('ext4-1k');
  const bad = damaged(s.pc, 'flip.pc', (b, reader) => {
    // byte 700 of the 2500th stored block
    const at = reader.dataOffset + 2500 * 1024 + Math.floor(2500 / 1024) * 4 + 700;
    flipBits(b, at, 0x55);
  });
  assert.notEqual(tryRun('partclone.chkimg', ['-s', bad, '-L', `${bad}.chk.log`]).status, 0);
  await assert.rejects(verifyPartcloneStream(createReadStream(bad)), code('CHECKSUM_MISMATCH'));
});

/** A copy of `pc` changed by `edit` (given the decoded layout). */
function damaged(
  pc: string,
  name: string,
  edit: (bytes: Buffer, reader: { dataOffset: number }) => void,
): string {
  const bytes = Buffer.from(readFileSync(pc));
  const headSize = 110;
  const T = Number(bytes.readBigUInt64LE(60));
  edit(bytes, { dataOffset: headSize + Math.ceil(T / 8) + 4 });
  const out = join(scratch.dir, name);
  writeFileSync(out, bytes);
  return out;
}

/** Block number of the n-th used block (0-based). */
function nthUsedBlock(bitmap: Uint8Array, totalBlocks: number, n: number): number {
  for (const { first: start, count } of usedRuns({ bitmap, totalBlocks })) {
    if (n < count) return start + n;
    n -= count;
  }
  throw new Error('past the end');
}

for (const views of [false, true])
  test(`a flipped byte in a data block names the first block of its checksum group and the image offset${views ? ' (views)' : ''}`, async () => {
    const s = sample('ext4-1k');
    const good = await openPartcloneStream(createReadStream(s.pc));
    await good.close();
    const K = good.header.blocksPerChecksum;
    const index = 3 * K + 17; // a block inside the 4th group
    const groupStart = good.dataOffset + 3 * K * (1024 + 0) + 3 * 4;
    const bad = damaged(s.pc, `flip2-${views}.pc`, (b) => {
      flipBits(b, groupStart + 17 * 1024 + 5, 1);
    });
    const reader = await openPartcloneStream(createReadStream(bad), { views });
    let before = 0;
    await assert.rejects(
      (async () => {
        for await (const r of reader.runs()) before += r.count;
      })(),
      (e: Coded) => {
        assert.equal(e.code, 'CHECKSUM_MISMATCH');
        const block = nthUsedBlock(good.bitmap, good.header.totalBlocks, 3 * K);
        assert.equal(e.details!.block, block);
        assert.equal(e.details!.offset, groupStart);
        assert.match(e.message, new RegExp(`block ${block}\\b`));
        return true;
      },
    );
    // nothing from the damaged group was handed out
    assert.ok(before <= 3 * K, `${before} blocks before the error`);
    assert.ok(index > before);
  });

test('bad heads: wrong magic, header CRC, endianness, version, bitmap CRC', async () => {
  const s = sample('fat32');
  const cases: Array<[string, (b: Buffer) => void, string]> = [
    ['magic', (b) => (b[3] = 0x41), 'BAD_MAGIC'],
    ['hcrc', (b) => flipBits(b, 60, 1), 'BAD_HEADER'],
    ['endian', (b) => b.writeUInt16LE(0xdec0, 34), 'BAD_HEADER'],
    ['version', (b) => b.write('0003', 30, 'latin1'), 'BAD_HEADER'],
    ['bcrc', (b) => flipBits(b, 110 + 300, 0x10), 'BAD_BITMAP'],
  ];
  for (const [name, edit, expected] of cases) {
    const bad = damaged(s.pc, `${name}.pc`, edit);
    await assert.rejects(openPartcloneStream(createReadStream(bad)), code(expected), name);
    await assert.rejects(readPartcloneInfo(bad), code(expected), name);
    assert.notEqual(
      tryRun('partclone.info', ['-s', bad, '-L', `${bad}.log`]).status,
      0,
      `partclone.info rejects ${name} too`,
    );
  }
  await assert.rejects(openPartcloneStream(Readable.from([Buffer.from('hello')])), code('BAD_MAGIC'));
  await assert.rejects(openPartcloneStream(Readable.from([])), code('BAD_MAGIC'));
  // a consistent header that breaks the 0.3.41 sanity rules (used > total), CRC fixed up
  const insane = damaged(s.pc, 'insane.pc', (b) => {
    b.writeBigUInt64LE(b.readBigUInt64LE(60) + 1n, 76);
    b.writeUInt32LE(pcCrc32(b.subarray(0, 106)), 106);
  });
  await assert.rejects(openPartcloneStream(createReadStream(insane)), code('BAD_HEADER'));
});

test('truncated images: inside the header, the bitmap, a block, a checksum; trailing data', async () => {
  const s = sample('ext4-1k');
  const full = readFileSync(s.pc);
  const dataOffset = 110 + 8192 + 4;
  const drain = async (bytes: Buffer) => {
    const reader = await openPartcloneStream(Readable.from([bytes]));
    for await (const _ of reader.runs());
  };
  await assert.rejects(drain(full.subarray(0, 60)), code('TRUNCATED'));
  await assert.rejects(drain(full.subarray(0, 3000)), code('TRUNCATED'));
  await assert.rejects(drain(full.subarray(0, dataOffset + 1024 * 100 + 10)), (e: Coded) => {
    assert.equal(e.code, 'TRUNCATED');
    assert.equal(e.details!.gotBlocks, 100);
    assert.ok(Number(e.details!.expectedBlocks) > 9000);
    return true;
  });
  // just before the first checksum: all blocks of the group, half of the checksum
  await assert.rejects(drain(full.subarray(0, dataOffset + 1024 * 1024 + 2)), code('TRUNCATED'));
  // the last checksum cut
  await assert.rejects(drain(full.subarray(0, full.length - 1)), code('TRUNCATED'));
  await assert.rejects(drain(Buffer.concat([full, Buffer.from([0])])), code('CORRUPT_ARCHIVE'));
  await drain(full);
});

/** A v1 ("0001") image as partclone 0.2.x wrote it (format doc §2), from a v2 reader's blocks. */
async function encodeV1(pc: string): Promise<Buffer> {
  const reader = await openPartcloneStream(createReadStream(pc));
  const h = reader.header;
  const head = Buffer.alloc(4160);
  head.write('partclone-image', 0, 'latin1');
  head.write(h.fsName, 15, 'latin1');
  head.write('0001', 30, 'latin1');
  head.writeInt32LE(h.blockSize, 36);
  head.writeBigUInt64LE(BigInt(h.deviceSize), 40);
  head.writeBigUInt64LE(BigInt(h.totalBlocks), 48);
  head.writeBigUInt64LE(BigInt(reader.usedBlocks), 56);
  const map = Buffer.alloc(h.totalBlocks);
  for (const { first, count } of usedRuns({ bitmap: reader.bitmap, totalBlocks: h.totalBlocks }))
    map.fill(1, first, first + count);
  const parts: Buffer[] = [head, map, Buffer.from('BiTmAgIc', 'latin1')];
  let crc = 0xffffffff;
  for await (const r of reader.runs()) {
    for (let i = 0; i < r.count; i++) {
      const block = r.data.subarray(i * h.blockSize, (i + 1) * h.blockSize);
      crc = pcCrc32(Buffer.alloc(h.blockSize, block[0]), crc); // partclone 0.2's first-byte CRC
      const sum = Buffer.alloc(4);
      sum.writeUInt32LE(crc);
      parts.push(block, sum);
    }
  }
  return Buffer.concat(parts);
}

test('v1 image: partclone accepts our encoding of it and the reader restores it', async () => {
  const s = sample('ext4-1k');
  const v1 = join(scratch.dir, 'v1.pc');
  writeFileSync(v1, await encodeV1(s.pc));
  const info = partcloneInfo(v1);
  assert.match(info, /image format:\s+0001/);
  run('partclone.chkimg', ['-s', v1, '-L', `${v1}.chk.log`]);
  const theirs = join(scratch.dir, 'v1.theirs.raw');
  run('partclone.ext4', ['-r', '-W', '-s', v1, '-o', theirs, '-L', `${theirs}.log`]);
  run('cmp', [theirs, s.image]);

  const reader = await openPartcloneStream(createReadStream(v1), { maxRunBytes: 300_000 });
  assert.equal(reader.header.formatVersion, 1);
  assert.equal(reader.header.fsName, 'EXTFS');
  assert.equal(reader.imageSize, readFileSync(v1).length);
  const ours = join(scratch.dir, 'v1.ours.raw');
  await restoreToFile(reader, ours);
  assertUsedBlocksEqual(reader.bitmap, reader.header.totalBlocks, 1024, s.image, ours);
  assert.equal((await readPartcloneInfo(v1)).header.formatVersion, 1);

  // v1's CRC only sees each block's first byte: damage there is caught by both, naming the block
  const bytes = readFileSync(v1);
  const T = reader.header.totalBlocks;
  const firstData = 4160 + T + 8;
  const bad = Buffer.from(bytes);
  flipBits(bad, firstData + 5 * (1024 + 4)); // first byte of the 6th stored block
  const badPath = join(scratch.dir, 'v1.bad.pc');
  writeFileSync(badPath, bad);
  assert.notEqual(tryRun('partclone.chkimg', ['-s', badPath, '-L', `${badPath}.log`]).status, 0);
  await assert.rejects(verifyPartcloneStream(createReadStream(badPath)), (e: Coded) => {
    assert.equal(e.code, 'CHECKSUM_MISMATCH');
    assert.equal(e.details!.block, nthUsedBlock(reader.bitmap, T, 5));
    return true;
  });
  const badBitmap = Buffer.from(bytes);
  badBitmap.write('BiTmAgIX', 4160 + T, 'latin1');
  await assert.rejects(openPartcloneStream(Readable.from([badBitmap])), code('BAD_BITMAP'));
});

test('partclone -c | pigz .gz reads through gunzip + reader; readPartcloneInfo handles .gz and plain', async () => {
  const s = sample('ext4-4k');
  const gz = join(scratch.dir, 'real.pc.gz');
  shell(`partclone.ext4 -c -s ${s.image} -o - -L ${gz}.log | pigz -c -p 2 > ${gz}`);
  const opened = await openMaybeGzipped(gz);
  assert.equal(opened.compressed, true);
  const reader = await openPartcloneStream(opened.stream);
  const out = join(scratch.dir, 'gz.restored');
  await restoreToFile(reader, out);
  assertUsedBlocksEqual(reader.bitmap, reader.header.totalBlocks, 4096, s.image, out);

  const info = await readPartcloneInfo(gz);
  const plain = await readPartcloneInfo(s.pc);
  assert.equal(info.compressed, true);
  assert.equal(plain.compressed, false);
  assert.deepEqual(info.header, plain.header);
  assert.equal(info.usedBlocks, infoBlocksInUse(s.pc));
  assert.equal(plain.imageSize, plain.fileSize);

  // a cut .gz is TRUNCATED, whether the cut falls in the data or the header
  const cut = join(scratch.dir, 'cut.pc.gz');
  const gzBytes = readFileSync(gz);
  writeFileSync(cut, gzBytes.subarray(0, Math.floor(gzBytes.length / 2)));
  const cutOpened = await openMaybeGzipped(cut);
  await assert.rejects(verifyPartcloneStream(cutOpened.stream), code('TRUNCATED'));
  const tiny = join(scratch.dir, 'tiny.pc.gz');
  writeFileSync(tiny, gzBytes.subarray(0, 40));
  await assert.rejects(readPartcloneInfo(tiny), code('TRUNCATED'));
});

test('reading only the head leaves nothing open', async () => {
  const s = sample('ext4-1k');
  const fd = openSync(s.pc, 'r');
  const head = Buffer.alloc(16);
  readSync(fd, head, 0, 16, 0);
  closeSync(fd);
  assert.equal(head.toString('latin1', 0, 15), 'partclone-image');
  const stream = createReadStream(s.pc);
  const reader = await openPartcloneStream(stream);
  await reader.close();
  assert.ok(stream.destroyed);
});
