/**
 * The v2 writer against real partclone 0.3.23: the bitmap decoded from partclone's own image plus the source
 * filesystem must give back that image byte for byte.
 */
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, createReadStream, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { openBlockFile } from '../../../main/engine/io/block-file';
import type { UsedBlockMap } from '../../../main/engine/fs/types';
import { readExtUsedMap, readFatUsedMap } from '../../../main/engine/fs';
import {
  createPartcloneImageStream,
  openPartcloneStream,
  partcloneImageSize,
} from '../../../main/engine/partclone';
import { makePartcloneSamples, partcloneClone, type PartcloneSample } from '../../support/partclone-samples';
import { run, scratchDir, shell } from '../../support/sh';

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

test('odd block counts: padding bits as partclone writes them, even when the map leaves them clear', async () => {
  const dir = scratch.dir;
  // 409 603 sectors of FAT32 with 4-sector clusters: a 3-sector tail and 5 padding bits (format doc §1.2)
  run('truncate', ['-s', String(409_603 * 512), `${dir}/odd-fat.img`]);
  run('mkfs.vfat', ['-F', '32', '-s', '4', '-n', 'ODD', `${dir}/odd-fat.img`]);
  shell(`mcopy -i odd-fat.img src/seq.txt ::/`, dir);
  // mkfs.vfat rounds the count down to 409 600; patch TotSec32 (main and backup boot sector) as the doc did
  const fat = openSync(`${dir}/odd-fat.img`, 'r+');
  const total = Buffer.alloc(4);
  total.writeUInt32LE(409_603);
  writeSync(fat, total, 0, 4, 32);
  writeSync(fat, total, 0, 4, 6 * 512 + 32);
  closeSync(fat);
  // 65 541 blocks of 1 KiB ext4
  run('truncate', ['-s', String(65_541 * 1024), `${dir}/odd-ext.img`]);
  run('mkfs.ext4', ['-q', '-F', '-b', '1024', '-d', `${dir}/src`, `${dir}/odd-ext.img`]);
  for (const [image, tool] of [
    ['odd-fat.img', 'fat32'],
    ['odd-ext.img', 'ext4'],
  ] as const) {
    const pc = `${dir}/${image}.pc`;
    partcloneClone(tool, `${dir}/${image}`, pc);
    const ref = readFileSync(pc);
    const map = await mapFromImage(pc, tool);
    assert.notEqual(map.totalBlocks % 8, 0, `${image} has padding bits`);
    const last = map.bitmap.length - 1;
    assert.equal(
      ref[110 + last]! >> (map.totalBlocks % 8),
      0xff >> (map.totalBlocks % 8),
      'partclone sets padding bits',
    );
    const cleared = Uint8Array.from(map.bitmap);
    cleared[last] = cleared[last]! & ((1 << (map.totalBlocks % 8)) - 1);
    const { out } = await writeImage({ ...map, bitmap: cleared }, `${dir}/${image}`);
    assert.ok(out.equals(ref), `byte-identical for ${image}`);
  }
});

test('end to end without partclone: the fs used-block map + the writer = `partclone.<fs> -c`, cmp-equal', async () => {
  for (const s of samples) {
    const file = await openBlockFile(s.image);
    let map: UsedBlockMap;
    try {
      map = s.tool === 'ext4' ? await readExtUsedMap(file, 0) : await readFatUsedMap(file, 0);
    } finally {
      await file.close();
    }
    const { out } = await writeImage(map, s.image);
    const ours = join(scratch.dir, `${s.name}.ours.pc`);
    writeFileSync(ours, out);
    run('cmp', [ours, s.pc]);
  }
});
