/** Partition-table scripts and images shared by the partition tests (made by the real sfdisk). */
import { join } from 'node:path';
import { run } from '../support/sh';

export const DOS_SCRIPT = `label: dos
label-id: 0xdeadbeef
unit: sectors

start=2048, size=20480, type=c, bootable
start=22528, size=10240, type=b
start=32768, size=40960, type=e
start=73728, type=83
`;

export const GPT_SCRIPT = `label: gpt
label-id: 6A1B2C3D-0000-4000-8000-00000000ABCD
unit: sectors

start=2048, size=8192, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, uuid=11111111-2222-4333-8444-555555555555, name="EFI system"
start=10240, size=16384, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="root \\x22fs\\x22 $HOME", attrs="LegacyBIOSBootable"
start=26624, size=4096, type=0657FD6D-A4AB-43C4-84E5-0933C84B4F4F, attrs="RequiredPartition NoBlockIOProtocol GUID:48,60,63"
start=32768, size=2048, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="caf\\xc3\\xa9 tab\\x09x"
`;

/** Makes an image of `mib` MiB and lets the real sfdisk write `script` into it. */
export function sfdiskImage(dir: string, name: string, mib: number, script: string): string {
  const path = join(dir, name);
  run('truncate', ['-s', `${mib}M`, path]);
  run('sfdisk', ['--no-reread', '--no-tell-kernel', '-q', path], { input: script });
  return path;
}

export const LOGICAL_SCRIPT = `label: dos
label-id: 0x0badcafe
unit: sectors

start=2048, size=8192, type=c, bootable
start=10240, size=53248, type=5
start=12288, size=8192, type=83
start=22528, size=8192, type=82
start=32768, size=30720, type=83
`;
