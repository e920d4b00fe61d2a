/** Large sequential reads (io/direct readBlocks): O_DIRECT where the filesystem allows it, holes, odd tails. */
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { alignedBuffer, openDirect, readBlocks } from '../../main/engine/io/direct';
import { sha256File, sha256FileWithSize } from '../../main/engine/io/hash';
import { run, scratchDir, shell } from '../support/sh';

const { dir, cleanup } = scratchDir('atlas-direct-read-');
// 20 MiB + 1234 bytes: data, a 9 MiB hole, data, and a tail that is not a whole sector
const sparse = join(dir, 'sparse.img');

before(() => {
  shell(
    `head -c 3M /dev/urandom > '${sparse}' && truncate -s 12M '${sparse}' && ` +
      `head -c 8M /dev/urandom >> '${sparse}' && head -c 1234 /dev/urandom >> '${sparse}'`,
  );
});
after(cleanup);

test('sha256File reads a sparse file with an odd tail directly and agrees with sha256sum', async () => {
  const file = await openDirect(sparse, { write: false });
  const direct = file.direct;
  await file.handle.close();
  // /tmp is ext4 on these machines: the direct path is the one under test
  assert.equal(direct, true, 'O_DIRECT was not available for the test file');
  const { sha256, bytes } = await sha256FileWithSize(sparse);
  assert.equal(sha256, run('sha256sum', [sparse]).split(' ')[0]);
  assert.equal(bytes, 20 * 2 ** 20 + 1234);
  // only the first bytes: a length that ends inside a block and off a sector
  const head = join(dir, 'head');
  writeFileSync(head, readFileSync(sparse).subarray(0, 5_000_001));
  assert.equal(await sha256File(sparse, { length: 5_000_001 }), run('sha256sum', [head]).split(' ')[0]);
});

test('readBlocks hands out every block in order, from the buffer it said, with reads ahead', async () => {
  const file = await openDirect(sparse, { write: false });
  try {
    const pool = [0, 1, 2].map(() => alignedBuffer(1 << 20, [file]));
    const parts: Buffer[] = [];
    let expected = 0;
    for await (const block of readBlocks(file, pool, { end: file.size, ahead: 2 })) {
      assert.equal(block.position, expected);
      assert.equal(block.buffer, pool[parts.length % pool.length]);
      parts.push(Buffer.from(block.buffer.subarray(0, block.length)));
      expected += block.length;
    }
    assert.equal(parts.length, 21);
    assert.ok(Buffer.concat(parts).equals(readFileSync(sparse)));
    // a range in the middle
    const middle: Buffer[] = [];
    for await (const block of readBlocks(file, pool, { start: 2 << 20, end: 5 << 20, ahead: 1 })) {
      middle.push(Buffer.from(block.buffer.subarray(0, block.length)));
    }
    assert.ok(Buffer.concat(middle).equals(readFileSync(sparse).subarray(2 << 20, 5 << 20)));
  } finally {
    await file.handle.close();
  }
});

test('readBlocks stops at the end of a file shorter than asked, with the short block last', async () => {
  const file = await openDirect(sparse, { write: false });
  try {
    const pool = [0, 1].map(() => alignedBuffer(8 << 20, [file]));
    const lengths: number[] = [];
    for await (const block of readBlocks(file, pool, { end: file.size + (20 << 20) })) {
      lengths.push(block.length);
    }
    assert.deepEqual(lengths, [8 << 20, 8 << 20, (4 << 20) + 1234]);
  } finally {
    await file.handle.close();
  }
});

test('readBlocks refuses a pool too small for its reads ahead', async () => {
  const file = await openDirect(sparse, { write: false });
  try {
    const pool = [alignedBuffer(1 << 20, [file])];
    await assert.rejects(async () => {
      for await (const block of readBlocks(file, pool, { end: file.size })) void block;
    }, /reads ahead need more than 1 buffers/);
  } finally {
    await file.handle.close();
  }
});
