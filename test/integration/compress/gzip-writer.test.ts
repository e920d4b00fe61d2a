/**
 * The parallel gzip writer against the real tools: pigz and gunzip read it, and a partclone image gzipped by
 * it restores with `pigz -dc | partclone.ext4 -r`.
 */
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { createReadStream, createWriteStream, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { crc32, gunzipSync, inflateRawSync } from 'node:zlib';
import { createParallelGzip } from '../../../main/engine/compress/gzip-writer';
import { createGunzip } from '../../../main/engine/compress/gunzip';
import { makePartcloneSamples, type PartcloneSample } from '../../support/partclone-samples';
import { run, scratchDir, shell } from '../../support/sh';

let scratch: ReturnType<typeof scratchDir>;
let samples: PartcloneSample[];

before(() => {
  scratch = scratchDir('atlas-gz-');
  samples = makePartcloneSamples(scratch.dir);
});
after(() => scratch.cleanup());

async function gzipFile(input: string, output: string, options = {}): Promise<void> {
  await pipeline(createReadStream(input), createParallelGzip(options), createWriteStream(output));
}

test('pigz -dc reads our gzip of a partclone image back byte for byte', async () => {
  const s = samples.find((x) => x.name === 'ext4-1k')!;
  const gz = join(scratch.dir, 'ours.pc.gz');
  await gzipFile(s.pc, gz, { memberBytes: 1024 * 1024, workers: 3 });
  const back = join(scratch.dir, 'back.pc');
  shell(`pigz -dc ${gz} > ${back}`);
  assert.ok(readFileSync(back).equals(readFileSync(s.pc)));
  run('gzip', ['-t', gz]);
  // one member per 1 MiB of input, each a whole gzip member with its own CRC and size, and compressed
  const input = readFileSync(s.pc);
  const members = gzipMembers(readFileSync(gz));
  assert.equal(members.length, Math.ceil(input.length / (1024 * 1024)));
  assert.ok(
    members.slice(0, -1).every((m) => m.size === 1024 * 1024),
    'every member but the last is 1 MiB',
  );
  assert.ok(readFileSync(gz).length < input.length * 0.9);
});

/** The members of a gzip file, each checked: its deflate data, then a CRC-32 and a size that match it. */
function gzipMembers(gz: Buffer): Array<{ size: number }> {
  const members: Array<{ size: number }> = [];
  let at = 0;
  while (at < gz.length) {
    assert.deepEqual([gz[at], gz[at + 1], gz[at + 2]], [0x1f, 0x8b, 8], `a member header at ${at}`);
    const flags = gz[at + 3]!;
    let p = at + 10;
    if (flags & 4) p += 2 + gz.readUInt16LE(p); // FEXTRA
    if (flags & 8) p = gz.indexOf(0, p) + 1; // FNAME
    if (flags & 16) p = gz.indexOf(0, p) + 1; // FCOMMENT
    if (flags & 2) p += 2; // FHCRC
    const { buffer, engine } = inflateRawSync(gz.subarray(p), { info: true }) as unknown as {
      buffer: Buffer;
      engine: { bytesWritten: number };
    };
    p += engine.bytesWritten;
    assert.equal(gz.readUInt32LE(p), crc32(buffer), `member ${members.length}: CRC-32`);
    assert.equal(gz.readUInt32LE(p + 4), buffer.length % 2 ** 32, `member ${members.length}: ISIZE`);
    members.push({ size: buffer.length });
    at = p + 8;
  }
  return members;
}

test('pigz -dc ours | partclone.ext4 -r gives the source filesystem', async () => {
  const s = samples.find((x) => x.name === 'ext4-4k')!;
  const gz = join(scratch.dir, 'ext4-4k.pc.gz');
  await gzipFile(s.pc, gz);
  const raw = join(scratch.dir, 'restored.raw');
  shell(`pigz -dc ${gz} | partclone.ext4 -r -W -s - -o ${raw} -L ${raw}.log`);
  run('cmp', [raw, s.image]);
});

test('several chunk sizes, levels and an empty input all round-trip through gunzip', async () => {
  const data = Buffer.concat([randomBytes(300_000), Buffer.alloc(5_000_000, 7), randomBytes(1234)]);
  for (const options of [{ level: 1, memberBytes: 65536, workers: 2 }, { level: 9, workers: 1 }, {}]) {
    const parts: Buffer[] = [];
    const gz = createParallelGzip(options);
    const done = (async () => {
      for await (const chunk of gz) parts.push(chunk as Buffer);
    })();
    for (let at = 0; at < data.length; at += 77_777) {
      if (!gz.write(data.subarray(at, at + 77_777))) await new Promise((r) => gz.once('drain', r));
    }
    gz.end();
    await done;
    assert.ok(gunzipSync(Buffer.concat(parts)).equals(data), JSON.stringify(options));
  }
  const empty: Buffer[] = [];
  await pipeline(Readable.from([]), createParallelGzip(), async (source: AsyncIterable<Buffer>) => {
    for await (const c of source) empty.push(c);
  });
  assert.equal(gunzipSync(Buffer.concat(empty)).length, 0);
  assert.ok(Buffer.concat(empty).length > 0, 'an empty input is still a gzip file');
});

test('abort and errors stop the stream; no worker keeps the process alive', async () => {
  const controller = new AbortController();
  const gz = createParallelGzip({ signal: controller.signal, memberBytes: 65536 });
  const source = Readable.from(
    (async function* () {
      for (let i = 0; i < 1000; i++) {
        if (i === 5) controller.abort();
        yield randomBytes(65536);
      }
    })(),
  );
  await assert.rejects(
    pipeline(source, gz, async function* (s) {
      for await (const _ of s) yield;
    }),
    (e: Error & { code?: string }) => e.code === 'CANCELLED',
  );
  assert.ok(gz.destroyed);
  assert.throws(
    () => createParallelGzip({ level: 12 }),
    (e: Error & { code?: string }) => e.code === 'INVALID_ARGUMENT',
  );

  // A child process that gzips and then does nothing must exit on its own: workers are shut down.
  const script = join(scratch.dir, 'child.js');
  const modulePath = require.resolve('../../../main/engine/compress/gzip-writer');
  writeFileSync(
    script,
    `const { createParallelGzip } = require(${JSON.stringify(modulePath)});
     const gz = createParallelGzip({ workers: 2, memberBytes: 65536 });
     let n = 0; gz.on('data', (c) => { n += c.length; }); gz.on('end', () => console.log('ok ' + n));
     gz.end(Buffer.alloc(1_000_000, 1));
     const gz2 = createParallelGzip({ workers: 2 }); gz2.write(Buffer.alloc(10)); gz2.destroy();`,
  );
  const child = spawnSync(process.execPath, [script], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(child.status, 0, child.stderr);
  assert.match(child.stdout, /^ok \d+/);
});

test('our gunzip reads multi-member pigz output and names a truncated file', async () => {
  const s = samples.find((x) => x.name === 'fat32')!;
  const gz = join(scratch.dir, 'fat32.pc.gz');
  shell(`pigz -c -b 128 ${s.pc} > ${gz}; cat ${gz} > ${gz}.twice; cat ${gz} >> ${gz}.twice`);
  const parts: Buffer[] = [];
  await pipeline(
    createReadStream(`${gz}.twice`),
    createGunzip('fat32.pc.gz'),
    async (source: AsyncIterable<Buffer>) => {
      for await (const c of source) parts.push(c);
    },
  );
  const ref = readFileSync(s.pc);
  assert.ok(Buffer.concat(parts).equals(Buffer.concat([ref, ref])));
  const cut = readFileSync(gz).subarray(0, 50_000);
  await assert.rejects(
    pipeline(Readable.from([cut]), createGunzip('cut.gz'), async function* (source) {
      for await (const _ of source) yield;
    }),
    (e: Error & { code?: string }) => e.code === 'TRUNCATED' && /cut\.gz/.test(e.message),
  );
});

test('a worker that dies mid-stream fails the stream with an error instead of hanging', async () => {
  const gz = createParallelGzip({ workers: 2, memberBytes: 65536 });
  const source = Readable.from(
    (async function* () {
      for (let i = 0; i < 200; i++) {
        if (i === 3) {
          // reach into the pool: a crashed thread looks exactly like this to the stream
          const workers = (gz as unknown as { workers: Array<{ terminate(): Promise<number> }> }).workers;
          await workers[0]!.terminate();
        }
        yield randomBytes(65536);
      }
    })(),
  );
  await assert.rejects(
    pipeline(source, gz, async (s: AsyncIterable<Buffer>) => {
      for await (const _ of s);
    }),
    (e: Error & { code?: string }) => e.code === 'INTERNAL' && /gzip worker/.test(e.message),
  );
});

test('a slow reader of whole-member chunks gets every byte (the writer is released after each read)', () => {
  // Level 0 makes each member larger than the readable buffer; a reader slower than the workers then finds
  // them idle. The writer once stayed shut there and the process, with nothing left to wait for, exited.
  const script = join(scratch.dir, 'slow-reader.js');
  const modulePath = require.resolve('../../../main/engine/compress/gzip-writer');
  writeFileSync(
    script,
    `const { createParallelGzip } = require(${JSON.stringify(modulePath)});
     const { Readable } = require('node:stream');
     const { pipeline } = require('node:stream/promises');
     const { randomBytes } = require('node:crypto');
     const { gunzipSync } = require('node:zlib');
     const input = Array.from({ length: 24 }, () => randomBytes(1 << 20));
     const out = [];
     pipeline(Readable.from(input), createParallelGzip({ level: 0, workers: 2 }), async (s) => {
       for await (const c of s) { out.push(c); await new Promise((r) => setTimeout(r, 30)); }
     }).then(() => console.log(gunzipSync(Buffer.concat(out)).equals(Buffer.concat(input)) ? 'ok' : 'differs'));`,
  );
  const child = spawnSync(process.execPath, [script], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(child.status, 0, child.stderr);
  assert.equal(child.stdout.trim(), 'ok');
});
