/**
 * The root broker's own checks, each against the real thing: who the person is (the channel folder, socket
 * and token as the OS reports them), which tools root may run (folders built in a scratch dir under /run with
 * the ownership and modes under test), and that an opened descriptor is the device that was checked (two loop
 * devices). Nothing here touches a disk of the machine.
 */
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import {
  chmodSync,
  chownSync,
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { checkChannel } from '../../main/helper/identity';
import { trustedPath, trustedTool, untrustedReason } from '../../main/helper/trusted-tools';
import { deviceNumber, openExpected } from '../../main/helper/cards';
import { isAtlasError } from '../../main/engine/errors';
import { attachLoop, type LoopDevice } from '../support/loop';
import { isRoot, scratchDir, testUser } from '../support/sh';

const skip = isRoot ? false : 'needs root (chown, loop devices)';

let dir = '';
let cleanup = (): void => undefined;
const servers: Server[] = [];

before(() => {
  if (!isRoot) return;
  ({ dir, cleanup } = scratchDir('atlas-boundary-'));
});

after(async () => {
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  cleanup();
});

/** A channel folder as the app makes it: 0700, helper.sock listening, token 0600. */
async function channel(name: string): Promise<{ folder: string; socket: string; token: string }> {
  const folder = join(dir, name);
  mkdirSync(folder, { mode: 0o700 });
  const socket = join(folder, 'helper.sock');
  const server = createServer();
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  const token = join(folder, 'token');
  writeFileSync(token, 'secret-token\n', { mode: 0o600 });
  return { folder, socket, token };
}

const refused = (pattern: RegExp) => (error: unknown) =>
  isAtlasError(error, 'PERMISSION_DENIED') && pattern.test(error.message);

test(
  'the channel: a private folder, its own socket, a private token, all of one person',
  { skip },
  async () => {
    const ok = await channel('ok');
    assert.deepEqual(await checkChannel(ok.socket, ok.token, {}), {
      uid: 0,
      gid: 0,
      token: 'secret-token',
      socketPath: ok.socket,
    });

    const open = await channel('open');
    chmodSync(open.folder, 0o750);
    await assert.rejects(checkChannel(open.socket, open.token, {}), refused(/not private \(0700\)/));

    const other = await channel('other');
    await assert.rejects(
      checkChannel(join(dir, 'elsewhere.sock'), other.token, {}),
      refused(/not in the token folder/),
    );

    const linked = await channel('linked');
    rmSync(linked.socket);
    symlinkSync(ok.socket, linked.socket);
    await assert.rejects(checkChannel(linked.socket, linked.token, {}), refused(/not a socket/));

    const tokenLink = await channel('token-link');
    rmSync(tokenLink.token);
    symlinkSync(ok.token, tokenLink.token);
    await assert.rejects(checkChannel(tokenLink.socket, tokenLink.token, {}), refused(/symlink/));

    const readable = await channel('readable');
    chmodSync(readable.token, 0o644);
    await assert.rejects(checkChannel(readable.socket, readable.token, {}), refused(/0600/));

    const person = testUser();
    const mixed = await channel('mixed');
    chownSync(mixed.folder, person.uid, person.gid);
    chownSync(mixed.token, person.uid, person.gid);
    await assert.rejects(checkChannel(mixed.socket, mixed.token, {}), refused(/different users/));

    const theirs = await channel('theirs');
    for (const p of [theirs.folder, theirs.socket, theirs.token]) chownSync(p, person.uid, person.gid);
    const got = await checkChannel(theirs.socket, theirs.token, { PKEXEC_UID: String(person.uid) });
    assert.deepEqual([got.uid, got.gid], [person.uid, person.gid]);
    // pkexec/sudo authenticated someone else than the channel's owner: root's own folder is not theirs
    await assert.rejects(
      checkChannel(ok.socket, ok.token, { PKEXEC_UID: String(person.uid) }),
      refused(/PKEXEC_UID/),
    );
    await assert.rejects(checkChannel(theirs.socket, theirs.token, { SUDO_UID: '0' }), refused(/SUDO_UID/));
  },
);

test('root runs tools only from root-owned folders nobody else can write', { skip }, () => {
  const base = mkdtempSync('/run/atlas-tools-');
  try {
    chmodSync(base, 0o755);
    const folder = (name: string, mode = 0o755): string => {
      const path = join(base, name);
      mkdirSync(path);
      chmodSync(path, mode);
      writeFileSync(join(path, 'tool'), '#!/bin/sh\n', { mode: 0o755 });
      return path;
    };
    const good = folder('good');
    assert.equal(trustedTool('tool', [good]), join(good, 'tool'));
    const groupWritable = folder('group', 0o775);
    const otherWritable = folder('other', 0o757);
    const notRoots = folder('not-root');
    const person = testUser();
    chownSync(notRoots, person.uid, person.gid);
    const badFile = folder('bad-file');
    chmodSync(join(badFile, 'tool'), 0o777);
    const linkToBad = folder('link');
    rmSync(join(linkToBad, 'tool'));
    symlinkSync(join(otherWritable, 'tool'), join(linkToBad, 'tool'));
    for (const [path, why] of [
      [groupWritable, /writable by others/],
      [otherWritable, /writable by others/],
      [notRoots, /not owned by root/],
      [badFile, /writable by others/],
      [linkToBad, /writable by others/],
    ] as const) {
      assert.throws(
        () => trustedTool('tool', [path]),
        (e: unknown) => isAtlasError(e, 'UNSUPPORTED') && why.test(e.message),
        path,
      );
    }
    // the first trusted folder wins; an untrusted one earlier in the list is passed over
    assert.equal(trustedTool('tool', [otherWritable, good]), join(good, 'tool'));
    assert.equal(trustedPath([groupWritable, good, notRoots]), good);
    // /tmp is writable by all: nothing below it is trusted
    assert.match(untrustedReason(dir) ?? '', /writable by others/);
    // the real ones
    assert.match(trustedTool('losetup'), /^\/(usr\/)?s?bin\/losetup$/);
    assert.throws(
      () => trustedTool('../bin/sh'),
      (e: unknown) => isAtlasError(e, 'INVALID_ARGUMENT'),
    );
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test('an opened descriptor must be the device that was checked', { skip }, async () => {
  let a: LoopDevice | null = null;
  let b: LoopDevice | null = null;
  try {
    for (const name of ['a.img', 'b.img']) writeFileSync(join(dir, name), Buffer.alloc(4 << 20, name[0]));
    a = attachLoop(join(dir, 'a.img'), { partitions: false });
    b = attachLoop(join(dir, 'b.img'), { partitions: false });
    const checkedB = await deviceNumber(b.device);
    assert.notEqual(checkedB, statSync(a.device).rdev);
    // the node at the checked path now leads to another device: refused, and closed again
    await assert.rejects(openExpected(a.device, checkedB, { write: true, direct: false }), (e: unknown) =>
      isAtlasError(e, 'DRIVE_CHANGED'),
    );
    closeSync(openSync(a.device, 'r+')); // not left open
    const { handle } = await openExpected(b.device, checkedB, { write: true, direct: true });
    await handle.close();
    const head = Buffer.alloc(4);
    const fd = openSync(a.device, 'r');
    readSync(fd, head, 0, 4, 0);
    closeSync(fd);
    assert.equal(head.toString(), 'aaaa');
    // a file is not a disk
    await assert.rejects(deviceNumber(join(dir, 'a.img')), (e: unknown) => isAtlasError(e, 'NOT_REMOVABLE'));
  } finally {
    a?.detach();
    b?.detach();
  }
});
