/**
 * Remote build folders without a network: the ssh:// rule (shared by settings, handlers, CLI and engine), the
 * options Atlas gives ssh, how ssh's own failures read, the listing parser, and the settings that keep the folders.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { formatRemoteFolder, parseRemoteFolder } from '../../main/shared/remote-folders';
import {
  remotePathWord,
  shellQuote,
  sshArgs,
  sshFailure,
  isDroppedConnection,
} from '../../main/engine/remote/ssh';
import { parseListing } from '../../main/engine/remote/catalog';
import { SettingsStore } from '../../main/app/settings';
import { holding } from '../../main/app/remote';
import { isAtlasError } from '../../main/engine/errors';
import { scratchDir } from '../support/sh';

test('ssh:// folders: user, host, port, path; the default path; canonical text; refusals', () => {
  assert.deepEqual(parseRemoteFolder('ssh://jdl-mini-box/~/atlas-build'), {
    user: null,
    host: 'jdl-mini-box',
    port: null,
    path: '~/atlas-build',
  });
  assert.deepEqual(parseRemoteFolder('ssh://jdl@10.0.0.5:2222/srv/builds/'), {
    user: 'jdl',
    host: '10.0.0.5',
    port: 2222,
    path: '/srv/builds',
  });
  assert.equal((parseRemoteFolder('ssh://box') as { path: string }).path, '~/atlas-build');
  assert.equal((parseRemoteFolder('ssh://box/') as { path: string }).path, '~/atlas-build');
  for (const text of ['ssh://box/~/atlas-build', 'ssh://u@box:22/srv/x', 'ssh://box/~']) {
    const parsed = parseRemoteFolder(text);
    assert.ok(!('error' in parsed));
    assert.equal(formatRemoteFolder(parsed), text);
  }
  assert.equal(formatRemoteFolder(parseRemoteFolder('ssh://box') as never), 'ssh://box/~/atlas-build');
  for (const bad of [
    '/local/folder',
    'ssh://-oProxyCommand=evil/x',
    'ssh://box:0/x',
    'ssh://box:99999/x',
    'ssh://bad user@box/x',
    'ssh://box/~/../etc',
    'ssh://box/x\ny',
    'ssh:///x',
  ]) {
    assert.ok('error' in parseRemoteFolder(bad), bad);
  }
});

test('ssh runs non-interactive and strict about host keys; remote words are quoted', () => {
  const args = sshArgs({ user: 'jdl', host: 'box', port: 2222, path: '~/a' }, 'true', { configFile: '/c' });
  const joined = args.join(' ');
  assert.match(joined, /-F \/c/);
  assert.match(joined, /-o BatchMode=yes/);
  assert.match(joined, /-o StrictHostKeyChecking=yes/);
  assert.match(joined, /-p 2222 -l jdl -- box true$/);
  assert.doesNotMatch(joined, /StrictHostKeyChecking=(no|accept-new)/);
  assert.equal(shellQuote("it's"), `'it'\\''s'`);
  assert.equal(remotePathWord('~/atlas build'), `"$HOME"/'atlas build'`);
  assert.equal(remotePathWord('/srv/$x'), `'/srv/$x'`);
});

test("ssh's failures read as what to do", () => {
  const box = { user: null, host: 'box', port: null, path: '~/atlas-build' };
  const cases: Array<[string, string]> = [
    [
      'No ED25519 host key is known for box and you have requested strict checking.\r\nHost key verification failed.',
      'SSH_HOST_KEY',
    ],
    [
      '@@@@@\r\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\r\nHost key verification failed.',
      'SSH_HOST_KEY',
    ],
    ['jdl@box: Permission denied (publickey).', 'SSH_AUTH_FAILED'],
    ['ssh: connect to host box port 22: Connection refused', 'SSH_UNREACHABLE'],
    ['ssh: Could not resolve hostname box: Name or service not known', 'SSH_UNREACHABLE'],
    ['Connection to box closed by remote host.', 'SSH_UNREACHABLE'],
  ];
  for (const [stderr, code] of cases) {
    const error = sshFailure(box, stderr);
    assert.ok(isAtlasError(error, code as never), `${stderr} → ${error.code}`);
    assert.doesNotMatch(error.message, /--|BatchMode|StrictHostKeyChecking/);
  }
  assert.match(sshFailure(box, cases[0]![0]).message, /Connect once in a Terminal with "ssh box"/);
  assert.equal(isDroppedConnection(sshFailure(box, 'Connection to box closed by remote host.')), true);
  assert.equal(isDroppedConnection(sshFailure(box, cases[3]![0])), false);
});

test('the listing: golden images with sidecar and checksums, clone folders with manifest hashes; hidden files out', () => {
  const manifest = JSON.stringify({
    tag: 'v1-0-X',
    created: '2026-11-01T10:00:00Z',
    files: [{ name: 'a.partclone.gz', size: 3, sha256: 'a'.repeat(64) }],
  });
  const sums = `${'b'.repeat(64)}  ods-atlas-golden-v1-0-X.img\n`;
  const text = [
    'F\tods-atlas-golden-v1-0-X.img\t100 1700000000 600',
    'F\tods-atlas-golden-v1-0-X.manifest.json\t2 1700000000 644',
    'F\tods-atlas-golden-v1-0-X.sha256\t' + `${Buffer.byteLength(sums)} 1700000000 644`,
    'D\tgolden-clone-v1-0-X\t4096 1700000100 755',
    'F\tgolden-clone-v1-0-X/a.partclone.gz\t3 1700000100 644',
    `F\tgolden-clone-v1-0-X/atlas-manifest.json\t${Buffer.byteLength(manifest)} 1700000100 644`,
    'F\tgolden-clone-v1-0-X/._a.partclone.gz\t4096 1700000100 644',
    'F\tnotes.txt\t5 1700000000 644',
    'C\tods-atlas-golden-v1-0-X.manifest.json\t2',
  ].join('\n');
  const out = Buffer.concat([
    Buffer.from(`${text}\n{}`),
    Buffer.from(`C\tods-atlas-golden-v1-0-X.sha256\t${Buffer.byteLength(sums)}\n${sums}`),
    Buffer.from(`C\tgolden-clone-v1-0-X/atlas-manifest.json\t${Buffer.byteLength(manifest)}\n${manifest}`),
  ]);
  const catalog = parseListing(out, 'ssh://box/~/atlas-build');
  assert.deepEqual(
    catalog.artifacts.map((a) => a.name),
    ['golden-clone-v1-0-X', 'ods-atlas-golden-v1-0-X.img'],
  );
  const [clone, golden] = catalog.artifacts;
  assert.deepEqual(
    clone!.files.map((f) => f.name),
    ['a.partclone.gz', 'atlas-manifest.json'],
  );
  assert.equal(clone!.hashes.get('a.partclone.gz')?.from, 'manifest');
  assert.equal(clone!.created, '2026-11-01T10:00:00.000Z');
  assert.equal(clone!.folder?.mode, 0o755);
  assert.equal(golden!.manifestFile, 'ods-atlas-golden-v1-0-X.manifest.json');
  assert.equal(golden!.checksumFile, 'ods-atlas-golden-v1-0-X.sha256');
  assert.equal(golden!.hashes.get('ods-atlas-golden-v1-0-X.img')?.sha256, 'b'.repeat(64));
  assert.equal(golden!.files.find((f) => f.name.endsWith('.img'))!.mode, 0o600);
  // which the vault holds, from names and sizes
  assert.equal(holding(golden!, undefined), 'missing');
  assert.equal(holding(golden!, golden!), 'held');
  assert.equal(
    holding(golden!, { ...golden!, files: golden!.files.map((f) => ({ ...f, size: f.size + 1 })) }),
    'differs',
  );
});

test('settings keep remote folders checked and canonical, duplicates once', async () => {
  const { dir, cleanup } = scratchDir('atlas-remote-settings-');
  try {
    const store = new SettingsStore(join(dir, 'config'), join(dir, 'home'));
    assert.deepEqual((await store.get()).remoteFolders, []);
    const saved = await store.set({
      remoteFolders: ['ssh://box', 'ssh://box/~/atlas-build', 'ssh://u@b:2/srv/x/'],
    });
    assert.deepEqual(saved.remoteFolders, ['ssh://box/~/atlas-build', 'ssh://u@b:2/srv/x']);
    assert.deepEqual((await store.get()).remoteFolders, saved.remoteFolders);
    await assert.rejects(store.set({ remoteFolders: ['/not/remote'] }), /ssh:\/\//);
    await assert.rejects(store.set({ remoteFolders: 'ssh://box' }), /list/);
    assert.deepEqual(
      (await store.get()).remoteFolders,
      saved.remoteFolders,
      'a refused change changes nothing',
    );
  } finally {
    cleanup();
  }
});
