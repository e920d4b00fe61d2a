/**
 * The parallel gunzip: multi-member files are inflated on workers and come out byte for byte, in order; what
 * it cannot split (one big member, a damaged or cut-off member) is read on serially from the last proven
 * member boundary, with the serial gunzip's errors; a false member header inside the data never splits it.
 */
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import {
  createParallelGunzip,
  recyclerOf,
  type ParallelGunzipOptions,
} from '../../../main/engine/compress/gunzip-parallel';
import { inflatesInPlace } from '../../../main/engine/compress/gunzip-worker';
import { openMaybeGzipped } from '../../../main/engine/compress/gunzip';
import { scratchDir, shell } from '../../support/sh';

let scratch: ReturnType<typeof scratchDir>;
before(() => {
  scratch = scratchDir('atlas-gunzip-');
});
after(() => scratch.cleanup());

/** Data that compresses (text-like) with random stretches, so members differ in size. */
function sampleData(bytes: number): Buffer {
  const parts: Buffer[] = [];
  let n = 0;
  for (let i = 0; n < bytes; i++) {
    const part =
      i % 3 === 0
        ? randomBytes(20_000)
        : Buffer.from(`line ${i} of the sample ${'abc'.repeat(i % 50)}\n`.repeat(300));
    parts.push(part);
    n += part.length;
  }
  return Buffer.concat(parts).subarray(0, bytes);
}

/** One gzip member per `memberBytes` of data, as our clone writes them. */
function members(data: Buffer, memberBytes: number): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < data.length; at += memberBytes)
    out.push(gzipSync(data.subarray(at, at + memberBytes)));
  return out;
}

function file(name: string, ...parts: Buffer[]): string {
  const path = join(scratch.dir, name);
  writeFileSync(path, Buffer.concat(parts));
  return path;
}

interface Read {
  data: Buffer;
  error?: Error & { code?: string };
  /** the rest of the file went to the serial gunzip */
  serial: boolean;
}

async function readAll(stream: Readable): Promise<Read> {
  const chunks: Buffer[] = [];
  let error: (Error & { code?: string }) | undefined;
  try {
    for await (const chunk of stream) chunks.push(chunk as Buffer);
  } catch (e) {
    error = e as Error & { code?: string };
  }
  const serial = (stream as unknown as { serial: unknown }).serial !== null;
  return { data: Buffer.concat(chunks), serial, ...(error ? { error } : {}) };
}

const parallel = (path: string, options: ParallelGunzipOptions = {}) =>
  readAll(createParallelGunzip(path, { workers: 2, ...options }));

test('multi-member: every member inflated on the workers, in order, byte for byte', async () => {
  const data = sampleData(3_000_000);
  const path = file('multi.gz', ...members(data, 65536));
  const read = await parallel(path, { readBytes: 65536 });
  assert.equal(read.error, undefined);
  assert.equal(read.serial, false, 'no part of the file needed the serial gunzip');
  assert.ok(read.data.equals(data));
  // and what openMaybeGzipped gives restore and verify is the same
  const opened = await openMaybeGzipped(path);
  assert.equal(opened.compressed, true);
  assert.ok((await readAll(opened.stream)).data.equals(data));
});

test('the workers inflate into given memory in this Node (the fast path is the one that runs)', () => {
  assert.equal(inflatesInPlace(), true);
});

test('memory read and handed back is inflated into again: the output stays byte for byte, a stale view empties', async () => {
  // members larger than the stream's high-water mark (1 MiB), as our clones' (4 MiB): read one at a time
  const data = sampleData(12_000_000);
  const path = file('recycled.gz', ...members(data, 1_500_000));
  const stream = createParallelGunzip(path, { workers: 2, readBytes: 65536 });
  const recycle = recyclerOf(stream)!;
  assert.ok(recycle, 'a parallel gunzip takes memory back');
  const copies: Buffer[] = [];
  const stale: Buffer[] = [];
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    copies.push(Buffer.from(chunk)); // read it
    stale.push(chunk);
    recycle(chunk.buffer); // done with it
    recycle(chunk.buffer); // twice is harmless
  }
  assert.ok(Buffer.concat(copies).equals(data));
  // what went back was transferred: a view kept past its hand-back reads as empty, never as another region
  // (the last regions come after the workers stopped: nothing takes them back)
  assert.ok(stale.length >= 8);
  assert.deepEqual(
    stale.slice(0, -2).map((c) => c.length),
    stale.slice(0, -2).map(() => 0),
  );
  // and memory given by the caller is ignored
  recycle(new ArrayBuffer(16));
  assert.equal(recyclerOf(Readable.from([Buffer.from('plain')])), undefined);
});

test('a single member (as pigz writes) larger than the window is read serially, and right', async () => {
  const data = sampleData(2_000_000);
  const path = join(scratch.dir, 'pigz.gz');
  writeFileSync(`${path}.raw`, data);
  shell(`pigz -c ${path}.raw > ${path}`);
  const read = await parallel(path, { windowBytes: 64 * 1024, readBytes: 64 * 1024 });
  assert.equal(read.error, undefined);
  assert.equal(read.serial, true);
  assert.ok(read.data.equals(data));
  // small enough for one region: a worker inflates it whole
  const small = await parallel(path);
  assert.equal(small.serial, false);
  assert.ok(small.data.equals(data));
});

test('a member larger than the window, between small ones: parallel, then serial from its start', async () => {
  const head = sampleData(500_000);
  const big = randomBytes(600_000);
  const tail = sampleData(300_000);
  const path = file('mixed.gz', ...members(head, 50_000), gzipSync(big), ...members(tail, 50_000));
  const read = await parallel(path, { windowBytes: 256 * 1024, readBytes: 65536 });
  assert.equal(read.error, undefined);
  assert.equal(read.serial, true);
  assert.ok(read.data.equals(Buffer.concat([head, big, tail])));
});

test('a false member header inside the data is joined back, never split on', async () => {
  // Stored (level 0) members keep their bytes verbatim: a whole gzip file inside the data puts real-looking
  // headers, and a member that inflates cleanly, in the middle of the outer members.
  const inner = gzipSync(sampleData(40_000));
  const fakeHeader = Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]);
  const data = Buffer.concat([
    sampleData(30_000),
    inner,
    fakeHeader,
    sampleData(60_000),
    fakeHeader,
    inner,
    sampleData(60_000),
  ]);
  const outer: Buffer[] = [];
  for (let at = 0; at < data.length; at += 50_000) {
    const last = at + 50_000 >= data.length;
    outer.push(gzipSync(data.subarray(at, at + 50_000), { level: last ? 6 : 0 }));
  }
  const path = file('false-header.gz', ...outer);
  const stream = createParallelGunzip(path, { workers: 2, readBytes: 65536 });
  // count the joins: the false headers did cut regions, and those were put back together
  const spied = stream as unknown as { retry: (...args: unknown[]) => string };
  const retry = spied.retry.bind(stream);
  let joins = 0;
  spied.retry = (...args: unknown[]) => {
    const outcome = retry(...args);
    if (outcome === 'joined') joins++;
    return outcome;
  };
  const read = await readAll(stream);
  assert.ok(joins >= 2, `${joins} joins`);
  assert.equal(read.error, undefined);
  assert.equal(read.serial, false, 'the false splits were joined on the workers');
  assert.ok(read.data.equals(data));
});

test('a truncated file: the whole members come out, then TRUNCATED naming the file', async () => {
  const data = sampleData(1_000_000);
  const parts = members(data, 100_000);
  const whole = Buffer.concat(parts);
  const cut = Math.floor(whole.length * 0.7);
  const path = file('cut.gz', whole.subarray(0, cut));
  let before = 0;
  for (let at = 0, i = 0; at + parts[i]!.length <= cut; at += parts[i]!.length, i++) before += 100_000;
  const read = await parallel(path, { name: 'cut.gz' });
  assert.equal(read.error?.code, 'TRUNCATED');
  assert.match(read.error!.message, /cut\.gz/);
  assert.ok(before > 0 && read.data.length >= before, 'the members before the cut came out');
  assert.ok(read.data.equals(data.subarray(0, read.data.length)));
});

test('a corrupt member: CORRUPT_ARCHIVE, and nothing wrong before it', async () => {
  const data = sampleData(1_000_000);
  const parts = members(data, 100_000);
  const bad = Buffer.from(parts[4]!);
  bad[bad.length - 6] = bad[bad.length - 6]! ^ 0xff; // its CRC-32: the deflate data is fine, the check is not
  const path = file('crc.gz', ...parts.slice(0, 4), bad, ...parts.slice(5));
  const read = await parallel(path, { name: 'crc.gz' });
  assert.equal(read.error?.code, 'CORRUPT_ARCHIVE');
  assert.ok(read.data.length <= 500_000);
  assert.ok(read.data.equals(data.subarray(0, read.data.length)));

  const damaged = Buffer.from(parts[2]!);
  for (let i = 40; i < 60; i++) damaged[i] = damaged[i]! ^ 0x55; // the deflate data itself
  const path2 = file('data.gz', ...parts.slice(0, 2), damaged, ...parts.slice(3));
  const read2 = await parallel(path2);
  assert.ok(
    read2.error?.code === 'CORRUPT_ARCHIVE' || read2.error?.code === 'TRUNCATED',
    read2.error?.message,
  );
  // the serial gunzip gives out what it inflates before it finds the damage: the members before are exact
  assert.ok(read2.data.length >= 200_000);
  assert.ok(read2.data.subarray(0, 200_000).equals(data.subarray(0, 200_000)));
});

test('zero padding after the last member is allowed; other trailing bytes are an error', async () => {
  const data = sampleData(300_000);
  const padded = await parallel(file('padded.gz', ...members(data, 100_000), Buffer.alloc(5000)));
  assert.equal(padded.error, undefined);
  assert.equal(padded.serial, false);
  assert.ok(padded.data.equals(data));
  const junk = await parallel(file('junk.gz', ...members(data, 100_000), Buffer.from('not gzip')));
  assert.equal(junk.error?.code, 'CORRUPT_ARCHIVE');
});

test('a region that inflates past its cap is read serially, and right', async () => {
  const data = Buffer.concat([Buffer.alloc(3_000_000), sampleData(100_000)]);
  const read = await parallel(file('zeros.gz', gzipSync(data)), { maxRegionOutput: 1_000_000 });
  assert.equal(read.error, undefined);
  assert.equal(read.serial, true);
  assert.ok(read.data.equals(data));
});

test('cancel mid-stream: CANCELLED, and no worker keeps the process alive', async () => {
  const path = file('cancel.gz', ...members(sampleData(4_000_000), 65536));
  const controller = new AbortController();
  const stream = createParallelGunzip(path, { workers: 2, signal: controller.signal });
  let got = 0;
  await assert.rejects(
    (async () => {
      for await (const chunk of stream) {
        got += (chunk as Buffer).length;
        if (got > 500_000) controller.abort();
      }
    })(),
    (e: Error & { code?: string }) => e.code === 'CANCELLED',
  );
  assert.ok(got < 4_000_000);
  assert.equal((stream as unknown as { slots: unknown[] }).slots.length, 0, 'the workers were stopped');

  // A child that reads part of a file, destroys the stream and then does nothing must exit on its own; one
  // that reads a file to its end, too.
  const script = join(scratch.dir, 'child.js');
  const modulePath = require.resolve('../../../main/engine/compress/gunzip-parallel');
  writeFileSync(
    script,
    `const { createParallelGunzip } = require(${JSON.stringify(modulePath)});
     (async () => {
       let n = 0;
       for await (const c of createParallelGunzip(${JSON.stringify(path)}, { workers: 2 })) n += c.length;
       const s = createParallelGunzip(${JSON.stringify(path)}, { workers: 2 });
       for await (const c of s) { s.destroy(); break; }
       console.log('ok ' + n);
     })();`,
  );
  const child = spawnSync(process.execPath, [script], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(child.status, 0, child.stderr);
  assert.equal(child.stdout.trim(), 'ok 4000000');
});
