// Decompression throughput of openImageSource per format and decoder, against the CLI tool decoding the
// same file to /dev/null. Prints MiB/s and ours/tool ratios (1.0 = as fast as the tool).
//   node out/bench/sources.bench.js [image MiB, default 384] [runs, default 3]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { openImageSource, type OpenImageSourceOptions } from '../main/engine/compress/source';
import { timeTool } from './support';

const mib = Number(process.argv[2] ?? 384);
const runs = Number(process.argv[3] ?? 3);
const dir = mkdtempSync(join(tmpdir(), 'atlas-bench-sources-'));

function sh(script: string): void {
  execFileSync('bash', ['-o', 'pipefail', '-ec', script], {
    cwd: dir,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function timeOurs(
  file: string,
  options: OpenImageSourceOptions,
): Promise<{ seconds: number; decoder: string }> {
  const times: number[] = [];
  let decoder = '';
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    const source = await openImageSource(join(dir, file), options);
    decoder = source.decoder;
    let bytes = 0;
    for await (const chunk of source.createReadStream()) bytes += (chunk as Buffer).byteLength;
    if (bytes !== statSync(join(dir, 'bench.img')).size) throw new Error(`${file}: got ${bytes} bytes`);
    times.push((performance.now() - start) / 1000);
  }
  return { seconds: median(times), decoder };
}

async function main(): Promise<void> {
  const fixture = resolve(process.cwd(), 'test/fixtures/make-armbian-image.sh');
  console.log(`building a ${mib} MiB image with mixed content in ${dir} …`);
  sh(`IMG_MIB=${mib} EXTRA_MIB=${Math.floor(mib / 2)} SEED=bench bash '${fixture}' bench.img`);
  sh(
    'pigz -6 -c bench.img > bench.img.gz && xz -T0 -6 -c bench.img > bench.img.xz && ' +
      'zstd -q -3 -c bench.img > bench.img.zst && zip -q -6 bench.zip bench.img',
  );
  const size = statSync(join(dir, 'bench.img')).size / (1024 * 1024);
  const cases: Array<{ label: string; file: string; tool: string; options: OpenImageSourceOptions }> = [
    { label: 'raw', file: 'bench.img', tool: 'cat bench.img > /dev/null', options: {} },
    {
      label: 'gzip zlib',
      file: 'bench.img.gz',
      tool: 'pigz -dc bench.img.gz > /dev/null',
      options: { gzipDecoder: 'zlib' },
    },
    {
      label: 'gzip pigz',
      file: 'bench.img.gz',
      tool: 'pigz -dc bench.img.gz > /dev/null',
      options: { gzipDecoder: 'pigz' },
    },
    { label: 'xz binary', file: 'bench.img.xz', tool: 'xz -dc -T0 bench.img.xz > /dev/null', options: {} },
    {
      label: 'xz wasm',
      file: 'bench.img.xz',
      tool: 'xz -dc -T0 bench.img.xz > /dev/null',
      options: { useTools: false },
    },
    {
      label: 'zstd binary',
      file: 'bench.img.zst',
      tool: 'zstd -q -dc bench.img.zst > /dev/null',
      options: { zstdDecoder: 'zstd' },
    },
    {
      label: 'zstd napi',
      file: 'bench.img.zst',
      tool: 'zstd -q -dc bench.img.zst > /dev/null',
      options: { zstdDecoder: 'zstd-napi' },
    },
    { label: 'zip', file: 'bench.zip', tool: 'unzip -p bench.zip > /dev/null', options: {} },
  ];
  console.log(`image ${size.toFixed(0)} MiB, median of ${runs} runs`);
  console.log('case         decoder     ours MiB/s  tool MiB/s  ours/tool  (tool)');
  for (const c of cases) {
    const tool = median(timeTool(c.tool, dir, runs));
    const ours = await timeOurs(c.file, c.options);
    console.log(
      `${c.label.padEnd(12)} ${ours.decoder.padEnd(11)} ${(size / ours.seconds).toFixed(0).padStart(10)}  ` +
        `${(size / tool).toFixed(0).padStart(10)}  ${(tool / ours.seconds).toFixed(2).padStart(9)}  (${c.tool.split(' > ')[0]})`,
    );
  }
}

main()
  .catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  })
  .finally(() => rmSync(dir, { recursive: true, force: true }));
