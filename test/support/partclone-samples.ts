/**
 * Small filesystems and the partclone images real partclone 0.3.23 makes of them (recipes from
 * shared/docs/partclone-format.md §6): the oracle for the partclone writer, reader and gzip tests.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { run, shell } from './sh';

export interface PartcloneSample {
  name: 'ext4-1k' | 'ext4-4k' | 'fat32';
  tool: 'ext4' | 'fat32';
  /** the filesystem image */
  image: string;
  /** partclone.<tool> -c of it */
  pc: string;
}

function sourceTree(dir: string): string {
  const src = join(dir, 'src');
  mkdirSync(join(src, 'sub'), { recursive: true });
  writeFileSync(join(src, 'hello.txt'), 'hello\n');
  writeFileSync(join(src, 'sub', 'rand.bin'), randomBytes(300_000));
  writeFileSync(join(src, 'seq.txt'), Array.from({ length: 20000 }, (_, i) => `${i + 1}\n`).join(''));
  return src;
}

/** Builds the three samples in `dir` and clones each with the real partclone. */
export function makePartcloneSamples(dir: string): PartcloneSample[] {
  const src = sourceTree(dir);
  const at = (f: string) => join(dir, f);
  run('truncate', ['-s', '64M', at('ext4.img')]);
  run('mkfs.ext4', ['-q', '-F', '-d', src, at('ext4.img')]);
  run('truncate', ['-s', '64M', at('ext4b4k.img')]);
  run('mkfs.ext4', ['-q', '-F', '-b', '4096', '-d', src, at('ext4b4k.img')]);
  run('truncate', ['-s', '64M', at('fat32.img')]);
  run('mkfs.vfat', ['-F', '32', '-n', 'PCTEST', at('fat32.img')]);
  shell(
    `mcopy -i fat32.img src/hello.txt src/seq.txt ::/ && mmd -i fat32.img ::/sub && mcopy -i fat32.img src/sub/rand.bin ::/sub/`,
    dir,
  );
  const samples: PartcloneSample[] = [
    { name: 'ext4-1k', tool: 'ext4', image: at('ext4.img'), pc: at('ext4.pc') },
    { name: 'ext4-4k', tool: 'ext4', image: at('ext4b4k.img'), pc: at('ext4b4k.pc') },
    { name: 'fat32', tool: 'fat32', image: at('fat32.img'), pc: at('fat32.pc') },
  ];
  for (const s of samples) partcloneClone(s.tool, s.image, s.pc);
  return samples;
}

/** `partclone.<tool> -c` with extra options (variants: `-a 0`, `-k N`, `-K`). */
export function partcloneClone(tool: string, image: string, out: string, extra: string[] = []): void {
  run(`partclone.${tool}`, ['-c', ...extra, '-s', image, '-O', out, '-L', `${out}.log`]);
}
