// openImageSource against the real compressors: every format's stream must hash like the raw image, sizes
// must match what xz/zstd/unzip report, and damaged archives must fail with CORRUPT_ARCHIVE.
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import {
  copyFileSync,
  readFileSync,
  readdirSync,
  statSync,
  truncateSync,
  writeFileSync,
  openSync,
  writeSync,
  closeSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { createHash } from 'node:crypto';
import type { AtlasError } from '../../main/engine/errors';
import {
  openImageSource,
  sourceProgress,
  type OpenImageSourceOptions,
} from '../../main/engine/compress/source';
import { createSha256Stream, sha256File, sha256Readable } from '../../main/engine/io/hash';
import { attachLoop } from '../support/loop';
import { rejection } from '../support/assert';
import { isRoot, run, scratchDir, shell } from '../support/sh';

const fixture = resolve(process.cwd(), 'test/fixtures/make-armbian-image.sh');
const { dir, cleanup } = scratchDir('atlas-sources-');
const img = join(dir, 'base.img');
let rawSha = '';
let rawSize = 0;

before(() => {
  shell(`IMG_MIB=160 EXTRA_MIB=48 SEED=sources bash '${fixture}' '${img}'`);
  rawSha = run('sha256sum', [img]).split(' ')[0]!;
  rawSize = statSync(img).size;
  shell(
    [
      `gzip -1 -c base.img > gzip.img.gz`,
      `pigz -c base.img > pigz.img.gz`,
      // two gzip members, as the parallel writer and `cat a.gz b.gz` make
      `head -c 40000000 base.img | gzip -1 -c > multi.img.gz && tail -c +40000001 base.img | gzip -1 -c >> multi.img.gz`,
      // 4 MiB members, like the parallel gzip writer
      `split -b 4M base.img part. && for p in part.*; do gzip -1 -c "$p"; done > members.img.gz && rm part.*`,
      `xz -T0 -2 --block-size=8MiB -c base.img > mt.img.xz`,
      `xz -T1 -1 -c base.img > st.img.xz`,
      `head -c 30000000 base.img | xz -0 -c > ms.img.xz && tail -c +30000001 base.img | xz -0 -c >> ms.img.xz`,
      `zstd -q -3 -c base.img > base.img.zst`,
      `cat base.img | zstd -q -3 -c > piped.img.zst`,
      `zip -q -1 one.zip base.img`,
      `zip -q -0 stored.zip base.img`,
      `mkdir -p sub && cp base.img sub/other.img && zip -q -1 two.zip base.img sub/other.img`,
      `echo hello > readme.txt && zip -q -1 notes.zip readme.txt base.img`,
      `head -c 1000000 /dev/urandom > noise.dat`,
      `cp base.img named-wrong.gz`,
      // ZIP64 records forced on a small file, and a streamed zip (data descriptor, entry named "-")
      `zip -q -1 -fz zip64.zip base.img`,
      `cat base.img | zip -q -1 - - > streamed.zip`,
      // xz stream padding after the stream (allowed by the format)
      `cp st.img.xz padded.img.xz && head -c 8 /dev/zero >> padded.img.xz`,
    ].join(' && '),
    dir,
  );
});

after(cleanup);

async function hashOf(path: string, options: OpenImageSourceOptions = {}) {
  const source = await openImageSource(path, options);
  const stream = source.createReadStream();
  const { sha256, bytes } = await sha256Readable(stream);
  return { source, sha256, bytes, compressed: stream.compressedBytesRead };
}

/** The image through source.readBlocks (a shared pool, reads ahead), hashed: must equal the stream's. */
async function hashOfBlocks(path: string, options: OpenImageSourceOptions = {}, signal?: AbortSignal) {
  const source = await openImageSource(path, options);
  const pool = [0, 1, 2].map(() => Buffer.from(new SharedArrayBuffer(1 << 20)));
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const block of source.readBlocks(pool, { ahead: 2, signal })) {
    assert.equal(block.position, bytes);
    hash.update(block.buffer.subarray(0, block.length));
    bytes += block.length;
  }
  return { sha256: hash.digest('hex'), bytes };
}

/** Our xz processes still running, and FIFO folders left behind. */
function leftovers(): { children: string[]; fifos: string[] } {
  const children = readdirSync('/proc')
    .filter((pid) => /^\d+$/.test(pid))
    .filter((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        return ppid === process.pid && readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('/usr/bin/xz');
      } catch {
        return false;
      }
    });
  const fifos = readdirSync(tmpdir()).filter((name) => name.startsWith('atlas-fifo-'));
  return { children, fifos };
}

const cases: Array<{
  file: string;
  format: string;
  sized: boolean;
  options?: OpenImageSourceOptions;
  decoder: string;
}> = [
  { file: 'base.img', format: 'raw', sized: true, decoder: 'file' },
  { file: 'named-wrong.gz', format: 'raw', sized: true, decoder: 'file' },
  { file: 'gzip.img.gz', format: 'gzip', sized: false, decoder: 'zlib' },
  { file: 'pigz.img.gz', format: 'gzip', sized: false, options: { gzipDecoder: 'pigz' }, decoder: 'pigz' },
  { file: 'multi.img.gz', format: 'gzip', sized: false, decoder: 'zlib' },
  { file: 'multi.img.gz', format: 'gzip', sized: false, options: { gzipDecoder: 'pigz' }, decoder: 'pigz' },
  { file: 'members.img.gz', format: 'gzip', sized: false, decoder: 'zlib' },
  { file: 'members.img.gz', format: 'gzip', sized: false, options: { gzipDecoder: 'pigz' }, decoder: 'pigz' },
  { file: 'mt.img.xz', format: 'xz', sized: true, decoder: 'xz' },
  { file: 'st.img.xz', format: 'xz', sized: true, decoder: 'xz' },
  { file: 'ms.img.xz', format: 'xz', sized: true, decoder: 'xz' },
  { file: 'mt.img.xz', format: 'xz', sized: true, options: { useTools: false }, decoder: 'xz-wasm' },
  { file: 'ms.img.xz', format: 'xz', sized: true, options: { toolPath: '' }, decoder: 'xz-wasm' },
  { file: 'base.img.zst', format: 'zstd', sized: true, decoder: 'zstd' },
  { file: 'base.img.zst', format: 'zstd', sized: true, options: { useTools: false }, decoder: 'zstd-napi' },
  { file: 'piped.img.zst', format: 'zstd', sized: false, decoder: 'zstd' },
  { file: 'one.zip', format: 'zip', sized: true, decoder: 'zlib' },
  { file: 'stored.zip', format: 'zip', sized: true, decoder: 'zlib' },
  { file: 'zip64.zip', format: 'zip', sized: true, decoder: 'zlib' },
  { file: 'streamed.zip', format: 'zip', sized: true, decoder: 'zlib' },
  { file: 'padded.img.xz', format: 'xz', sized: true, decoder: 'xz' },
  { file: 'padded.img.xz', format: 'xz', sized: true, options: { useTools: false }, decoder: 'xz-wasm' },
];

for (const c of cases) {
  test(`${c.file} via ${c.decoder} streams the raw image`, async () => {
    const path = join(dir, c.file);
    const { source, sha256, bytes, compressed } = await hashOf(path, c.options);
    assert.equal(source.format, c.format);
    assert.equal(source.decoder, c.decoder);
    assert.equal(source.fileSize, statSync(path).size);
    assert.equal(bytes, rawSize);
    assert.equal(sha256, rawSha);
    assert.equal(source.size, c.sized ? rawSize : null);
    // every compressed byte was consumed (zip: the entry's data only)
    if (c.format !== 'zip') assert.equal(compressed, source.fileSize);
    else assert.ok(compressed > 0 && compressed < source.fileSize);
  });
  test(`${c.file} via ${c.decoder} in whole blocks gives the same bytes`, async () => {
    const { sha256, bytes } = await hashOfBlocks(join(dir, c.file), c.options);
    assert.equal(bytes, rawSize);
    assert.equal(sha256, rawSha);
  });
}

test('xz size agrees with xz --robot -l', async () => {
  for (const file of ['mt.img.xz', 'st.img.xz', 'ms.img.xz', 'padded.img.xz']) {
    const totals = run('xz', ['--robot', '-l', join(dir, file)])
      .split('\n')
      .find((line) => line.startsWith('totals'))!
      .split('\t');
    const source = await openImageSource(join(dir, file));
    assert.equal(source.size, Number(totals[4]), file);
  }
  // the multi-threaded file really has several blocks
  const blocks = run('xz', ['--robot', '-l', join(dir, 'mt.img.xz')])
    .split('\n')
    .find((l) => l.startsWith('totals'))!
    .split('\t')[2];
  assert.ok(Number(blocks) > 1);
});

test('gzip: size unknown, ISIZE offered as an estimate; progress falls back to compressed bytes', async () => {
  const source = await openImageSource(join(dir, 'gzip.img.gz'));
  assert.equal(source.size, null);
  assert.equal(source.estimate, rawSize); // single member, under 4 GiB: ISIZE is exact here
  const stream = source.createReadStream();
  await sha256Readable(stream);
  const progress = sourceProgress(source, stream);
  assert.deepEqual(progress, { bytesDone: source.fileSize, bytesTotal: source.fileSize, unit: 'compressed' });
  // 4 MiB members: the last member's ISIZE is smaller than the file, so no estimate is claimed
  const members = await openImageSource(join(dir, 'members.img.gz'));
  assert.equal(members.estimate, null);
  const xz = await openImageSource(join(dir, 'st.img.xz'));
  const xzStream = xz.createReadStream();
  await sha256Readable(xzStream);
  assert.deepEqual(sourceProgress(xz, xzStream), {
    bytesDone: rawSize,
    bytesTotal: rawSize,
    unit: 'uncompressed',
  });
});

test('a raw block device (loop) streams its whole capacity', { skip: !isRoot }, async () => {
  const loop = attachLoop(img, { partitions: false });
  try {
    const { source, sha256, bytes } = await hashOf(loop.device);
    assert.equal(source.format, 'raw');
    assert.equal(source.size, rawSize);
    assert.equal(bytes, rawSize);
    assert.equal(sha256, rawSha);
    assert.equal(await sha256File(loop.device), rawSha);
  } finally {
    loop.detach();
  }
});

test('zip entry name and zip with a single non-.img file among others', async () => {
  const one = await openImageSource(join(dir, 'one.zip'));
  assert.equal(one.entryName, 'base.img');
  // readme.txt + base.img: the single .img wins
  const notes = await openImageSource(join(dir, 'notes.zip'));
  assert.equal(notes.entryName, 'base.img');
});

test('a zip with two images names both', async () => {
  const error = await rejection(openImageSource(join(dir, 'two.zip')));
  assert.equal(error.code, 'INVALID_ARGUMENT');
  assert.match(error.message, /base\.img/);
  assert.match(error.message, /sub\/other\.img/);
  // choosing one explicitly works
  const chosen = await hashOf(join(dir, 'two.zip'), { entryName: 'sub/other.img' });
  assert.equal(chosen.sha256, rawSha);
});

test('an empty zip says there is no image inside', async () => {
  // the 22-byte end-of-central-directory record alone is a valid empty zip
  const empty = join(dir, 'empty.zip');
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  writeFileSync(empty, eocd);
  const error = await rejection(openImageSource(empty));
  assert.equal(error.code, 'INVALID_ARGUMENT');
  assert.match(error.message, /empty/);
});

test('unknown bytes are UNSUPPORTED and list the accepted formats; a missing file is NOT_FOUND', async () => {
  const error = await rejection(openImageSource(join(dir, 'noise.dat')));
  assert.equal(error.code, 'UNSUPPORTED');
  assert.match(error.message, /\.img\.xz/);
  const bz = join(dir, 'x.img.bz2');
  shell(`head -c 100000 base.img | bzip2 -c > x.img.bz2`, dir);
  assert.match((await rejection(openImageSource(bz))).message, /bzip2/);
  assert.equal((await rejection(openImageSource(join(dir, 'nope.img')))).code, 'NOT_FOUND');
});

function damage(file: string, name: string, at: (size: number) => number): string {
  const path = join(dir, name);
  copyFileSync(join(dir, file), path);
  const size = statSync(path).size;
  const fd = openSync(path, 'r+');
  const position = at(size);
  const byte = Buffer.alloc(1);
  byte[0] = readFileSync(path).subarray(position, position + 1)[0]! ^ 0x55;
  writeSync(fd, byte, 0, 1, position);
  closeSync(fd);
  return path;
}

function truncated(file: string, name: string): string {
  const path = join(dir, name);
  copyFileSync(join(dir, file), path);
  truncateSync(path, Math.floor(statSync(path).size * 0.6));
  return path;
}

async function expectCorrupt(path: string, options: OpenImageSourceOptions = {}): Promise<AtlasError> {
  const error = await rejection(hashOf(path, options));
  assert.equal(error.code, 'CORRUPT_ARCHIVE', `${path}: ${error.code} ${error.message}`);
  assert.match(error.message, /damaged/);
  return error;
}

const damaged: Array<{ file: string; options?: OpenImageSourceOptions; label: string }> = [
  { file: 'gzip.img.gz', label: 'gzip/zlib' },
  { file: 'gzip.img.gz', options: { gzipDecoder: 'pigz' }, label: 'gzip/pigz' },
  { file: 'mt.img.xz', label: 'xz/binary' },
  { file: 'mt.img.xz', options: { useTools: false }, label: 'xz/wasm' },
  { file: 'base.img.zst', label: 'zstd/binary' },
  { file: 'base.img.zst', options: { useTools: false }, label: 'zstd/napi' },
  { file: 'one.zip', label: 'zip/deflate' },
  { file: 'stored.zip', label: 'zip/stored' },
];

for (const d of damaged) {
  const safe = d.label.replace('/', '-');
  test(`${d.label}: a flipped byte is CORRUPT_ARCHIVE with the offset`, async () => {
    const path = damage(d.file, `flip-${safe}-${d.file}`, (size) => Math.floor(size * 0.5));
    const error = await expectCorrupt(path, d.options);
    // every decoder locates the damage in the image it was producing
    const at = error.details.uncompressedOffset;
    assert.equal(typeof at, 'number', `${d.label}: the offset is given (${JSON.stringify(error.details)})`);
    assert.ok((at as number) >= 0 && (at as number) <= rawSize, `offset ${String(at)}`);
    assert.match(error.message, /byte \d+/);
  });
  test(`${d.label}: a flipped byte is CORRUPT_ARCHIVE in whole blocks too`, async () => {
    const path = damage(d.file, `flipb-${safe}-${d.file}`, (size) => Math.floor(size * 0.5));
    const error = await rejection(hashOfBlocks(path, d.options));
    assert.equal(error.code, 'CORRUPT_ARCHIVE', `${path}: ${error.code} ${error.message}`);
    assert.deepEqual(leftovers(), { children: [], fifos: [] });
  });
  test(`${d.label}: a truncated file is CORRUPT_ARCHIVE`, async () => {
    await expectCorrupt(truncated(d.file, `cut-${safe}-${d.file}`), d.options);
  });
}

test('a failing xz binary surfaces its own sentence', async () => {
  const path = damage('st.img.xz', 'sentence.img.xz', (size) => Math.floor(size * 0.5));
  const error = await expectCorrupt(path);
  assert.match(error.message, /xz: .*(corrupt|Compressed data)/i);
});

test('cancel stops the stream and kills the decoder process', async () => {
  const source = await openImageSource(join(dir, 'mt.img.xz'));
  const controller = new AbortController();
  const stream = source.createReadStream({ signal: controller.signal });
  let seen = 0;
  const error = await rejection(
    (async () => {
      for await (const chunk of stream) {
        seen += (chunk as Buffer).byteLength;
        if (seen > 4 * 1024 * 1024) controller.abort();
      }
    })(),
  );
  assert.equal(error.code, 'CANCELLED');
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(leftovers().children, []);
});

test('cancel stops the blocks, kills the decoder and removes its FIFO', async () => {
  const source = await openImageSource(join(dir, 'mt.img.xz'));
  assert.equal(source.decoder, 'xz');
  const controller = new AbortController();
  const pool = [0, 1].map(() => Buffer.from(new SharedArrayBuffer(1 << 20)));
  let blocks = 0;
  const error = await rejection(
    (async () => {
      for await (const block of source.readBlocks(pool, { signal: controller.signal })) {
        void block;
        if (++blocks === 3) controller.abort();
      }
    })(),
  );
  assert.equal(error.code, 'CANCELLED');
  assert.equal(blocks, 3);
  assert.deepEqual(leftovers(), { children: [], fifos: [] });
});

test('without a FIFO (an unusable temporary folder) the blocks come from the stream, same bytes', async () => {
  const saved = process.env.TMPDIR;
  process.env.TMPDIR = join(dir, 'no-such-folder');
  try {
    const { sha256, bytes } = await hashOfBlocks(join(dir, 'mt.img.xz'));
    assert.equal(bytes, rawSize);
    assert.equal(sha256, rawSha);
  } finally {
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
  }
});

test('stopping early (a consumer that breaks out) kills the decoder too', async () => {
  const source = await openImageSource(join(dir, 'mt.img.xz'));
  const pool = [0, 1, 2].map(() => Buffer.from(new SharedArrayBuffer(1 << 20)));
  for await (const block of source.readBlocks(pool, { ahead: 2 })) {
    assert.equal(block.length, 1 << 20);
    break;
  }
  assert.deepEqual(leftovers(), { children: [], fifos: [] });
});

test('sha256File and the hashing stream agree with sha256sum', async () => {
  let progressed = 0;
  assert.equal(await sha256File(img, { onProgress: (p) => (progressed = p.bytesDone) }), rawSha);
  assert.equal(progressed, rawSize);
  const small = join(dir, 'readme.txt');
  assert.equal(await sha256File(small), run('sha256sum', [small]).split(' ')[0]);
  const empty = join(dir, 'zero');
  writeFileSync(empty, '');
  assert.equal(await sha256File(empty), run('sha256sum', [empty]).split(' ')[0]);
  const hasher = createSha256Stream();
  hasher.end(Buffer.from('abc'));
  hasher.resume();
  await new Promise((r) => hasher.on('end', r));
  assert.equal(hasher.digest(), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  assert.equal(hasher.bytes, 3);
});

test('sha256File honours a cancelled signal', async () => {
  const controller = new AbortController();
  controller.abort();
  const error = await rejection(sha256File(img, { signal: controller.signal }));
  assert.equal(error.code, 'CANCELLED');
});
