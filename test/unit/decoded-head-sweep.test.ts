/** Insert's pick-time check leaves no temporary folder behind, even when the app that made it was killed. */
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sweepLeftovers } from '../../main/engine/compress/decoded-head';

test("a killed check's folder is swept; a live process's, our own and other names are kept", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'atlas-sweep-'));
  try {
    const dead = spawnSync('true').pid!; // exited: its pid is free
    const make = (name: string): string => {
      const path = join(dir, name);
      mkdirSync(path);
      writeFileSync(join(path, 'image.img'), 'x');
      return path;
    };
    const killed = make(`atlas-decoded-${dead}-abc123`);
    const mine = make(`atlas-decoded-${process.pid}-def456`);
    const parent = make(`atlas-decoded-${process.ppid}-ghi789`);
    const other = make('atlas-decoded-old');
    const file = join(dir, `atlas-decoded-${dead}-file`);
    writeFileSync(file, 'not a folder');

    assert.deepEqual(await sweepLeftovers(dir), [killed]);
    assert.equal(existsSync(killed), false);
    for (const kept of [mine, parent, other, file]) assert.ok(existsSync(kept), kept);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
