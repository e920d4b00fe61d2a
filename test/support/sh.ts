/** Running the real tools that are our test oracle (partclone, sfdisk, e2fsck, losetup, ...). */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Runs a program and returns its stdout; throws with stderr when it fails. */
export function run(
  cmd: string,
  args: string[],
  options: { input?: string | Buffer; cwd?: string } = {},
): string {
  return execFileSync(cmd, args, {
    encoding: 'utf8',
    input: options.input,
    cwd: options.cwd,
    maxBuffer: 256 * 1024 * 1024,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

/** Runs a shell pipeline (for `pigz -dc x | partclone.ext4 -r ...`); throws when it fails. */
export function shell(script: string, cwd?: string): string {
  return execFileSync('bash', ['-o', 'pipefail', '-ec', script], {
    encoding: 'utf8',
    cwd,
    maxBuffer: 256 * 1024 * 1024,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Runs a program and returns its status and output without throwing. */
export function tryRun(cmd: string, args: string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  return { status: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

export function hasCommand(name: string): boolean {
  return spawnSync('bash', ['-c', `command -v ${name}`]).status === 0;
}

export const isRoot = process.getuid?.() === 0;

/** A scratch folder removed by the returned cleanup. */
export function scratchDir(prefix = 'atlas-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** An unprivileged user for tests of the privilege boundary (created, without a home, when missing). */
export function testUser(name = 'atlas-priv-test'): { name: string; uid: number; gid: number } {
  if (spawnSync('id', ['-u', name]).status !== 0) run('useradd', ['-M', '-s', '/usr/sbin/nologin', name]);
  return { name, uid: Number(run('id', ['-u', name]).trim()), gid: Number(run('id', ['-g', name]).trim()) };
}
