/**
 * The v2 writer against real partclone 0.3.23: the bitmap decoded from partclone's own image plus the source
 * filesystem must give back that image byte for byte.
 */
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { createReadStream, readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { openBlockFile } from '../../../main/engine/io/block-file';
import type { UsedBlockMap } from '../../../main/engine/fs/types';
import {
  createPartcloneImageStream,
  openPartcloneStream,
  partcloneImageSize,
} from '../../../main/engine/partclone';
import { makePartcloneSamples, partcloneClone, type PartcloneSample } from '../../support/partclone-samples';
import { scratchDir } from '../../support/sh';

let scratch: ReturnType<typeof scratchDir>;
let samples: PartcloneSample[];

before(() => {
  scratch = scratchDir('atlas-pcw-');
  samples = makePartcloneSamples(scratch.dir);
});
after(() => scratch.cleanup());

async function collect(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

/** The used-block map partclone recorded, as the writer's input. */
export async function mapFromImage(
  pcPath: string,
  tool: UsedBlockMap['partcloneTool'],
): Promise<UsedBlockMap> {
  const reader = await openPartcloneStream(createReadStream(pcPath), { verify: false });
  await reader.close();
  const h = reader.header;
  return {
    fsName: h.fsName as UsedBlockMap['fsName'],
    partcloneTool: tool,
    blockSize: h.blockSize,
    totalBlocks: h.totalBlocks,
    bitmap: reader.bitmap,
    usedBlocks: reader.usedBlocks,
    superblockUsed: h.superblockUsed,
  };
}

async function writeImage(
  map: UsedBlockMap,
  imagePath: string,
  options = {},
): Promise<{ out: Buffer; reads: number }> {
  const file = await openBlockFile(imagePath);
  let reads = 0;
  try {
    const stream = createPartcloneImageStream(
      map,
      async (first, count, into) => {
        reads++;
        assert.equal(into.length, count * map.blockSize);
        const got = await file.read(into, first * map.blockSize, count * map.blockSize);
        assert.equal(got, count * map.blockSize);
      },
      options,
    );
    return { out: await collect(stream), reads };
  } finally {
    await file.close();
  }
}

for (const name of ['ext4-1k', 'ext4-4k', 'fat32'] as const) {
  test(`writer output equals partclone 0.3.23's for ${name}`, async () => {
    const s = samples.find((x) => x.name === name)!;
    const ref = readFileSync(s.pc);
    const map = await mapFromImage(s.pc, s.tool);
    assert.ok(map.usedBlocks > 1000, 'the sample has data');
    const { out } = await writeImage(map, s.image);
    assert.equal(out.length, ref.length);
    assert.equal(partcloneImageSize(map), ref.length);
    assert.ok(out.equals(ref), 'byte-identical to partclone');
  });
}

test('writer output does not depend on read chunking', async () => {
  const s = samples.find((x) => x.name === 'ext4-1k')!;
  const ref = readFileSync(s.pc);
  const map = await mapFromImage(s.pc, s.tool);
  const small = await writeImage(map, s.image, { readChunkBytes: 3000, readThroughGapBytes: 0 });
  const large = await writeImage(map, s.image, { readChunkBytes: 64 * 1024 * 1024 });
  assert.ok(small.out.equals(ref));
  assert.ok(large.out.equals(ref));
  assert.ok(small.reads > large.reads * 10, `${small.reads} small reads vs ${large.reads} large`);
});

test('writer variants (-a 0, -k N -K) match partclone', async () => {
  const s = samples.find((x) => x.name === 'ext4-1k')!;
  const map = await mapFromImage(s.pc, s.tool);
  const cases: Array<[string[], object]> = [
    [['-a', '0'], { checksum: 'none' }],
    [['-k', '1', '-K'], { blocksPerChecksum: 1, reseedChecksum: false }],
    [['-k', '4096'], { blocksPerChecksum: 4096 }],
  ];
  for (const [args, options] of cases) {
    const refPath = `${scratch.dir}/var-${args.join('')}.pc`;
    partcloneClone(s.tool, s.image, refPath, args);
    const ref = readFileSync(refPath);
    const { out } = await writeImage(map, s.image, options);
    assert.equal(partcloneImageSize(map, options), ref.length, args.join(' '));
    assert.ok(out.equals(ref), `byte-identical for ${args.join(' ')}`);
  }
});

test('writer rejects a map whose count disagrees with its bitmap, and stops on abort', async () => {
  const s = samples.find((x) => x.name === 'fat32')!;
  const map = await mapFromImage(s.pc, s.tool);
  assert.throws(
    () => createPartcloneImageStream({ ...map, usedBlocks: map.usedBlocks + 1 }, async () => undefined),
    (e: Error & { code?: string }) => e.code === 'INVALID_ARGUMENT',
  );
  const controller = new AbortController();
  let reads = 0;
  const stream = createPartcloneImageStream(
    map,
    async (_first, _count, into) => {
      into.fill(0);
      if (++reads === 2) controller.abort();
    },
    { signal: controller.signal, readChunkBytes: 4096 },
  );
  await assert.rejects(collect(stream), (e: Error & { code?: string }) => e.code === 'CANCELLED');
  assert.ok(reads < 5, `stopped after ${reads} reads`);
});
