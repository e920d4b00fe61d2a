/**
 * A build box for the tests: the system's sshd on 127.0.0.1 at a free high port, started by the test (`-D` in the
 * background, its own host key, config and log in a scratch folder) and stopped at the end. One key-only account,
 * `atlas-build` (created when missing; no password: its shadow entry is `*`, which key logins accept), whose
 * home holds the remote build folder ~/atlas-build. The client side gets an ssh_config file (as a person's
 * ~/.ssh/config: a host alias, the key, known_hosts), passed to ssh with -F.
 * Needs root (sshd, useradd, chown).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { join } from 'node:path';
import { run, tryRun } from './sh';

export const BUILD_USER = 'atlas-build';
export const HOST_ALIAS = 'buildbox';

export interface BuildBox {
  port: number;
  /** the account's home (the remote folder is `${home}/atlas-build`) */
  home: string;
  uid: number;
  gid: number;
  /** the client's ssh_config: HOST_ALIAS → 127.0.0.1:port as BUILD_USER with the good key and known host */
  config: string;
  /** writes another client config (another key, another known_hosts, another port) and returns its path */
  clientConfig(options: {
    key?: 'good' | 'wrong';
    knownHosts?: 'good' | 'none';
    port?: number;
    owner?: number;
  }): string;
  /** the pids of sshd's per-connection processes running a command for the account, whose command line matches */
  sessionsRunning(pattern: RegExp): number[];
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function ensureUser(): { uid: number; gid: number; home: string } {
  if (tryRun('id', ['-u', BUILD_USER]).status !== 0) {
    run('useradd', ['--create-home', '--shell', '/bin/sh', BUILD_USER]);
  }
  // locked accounts ("!") are refused by sshd without PAM; "*" has no password and is not locked
  run('usermod', ['-p', '*', BUILD_USER]);
  const home = run('getent', ['passwd', BUILD_USER]).split(':')[5]!;
  return {
    uid: Number(run('id', ['-u', BUILD_USER]).trim()),
    gid: Number(run('id', ['-g', BUILD_USER]).trim()),
    home,
  };
}

async function waitForPort(port: number, sshd: ChildProcess, log: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (sshd.exitCode !== null) throw new Error(`sshd exited: ${readFileSync(log, 'utf8')}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`sshd did not listen on ${port}`);
}

/** Starts the build box; `dir` is the test's scratch folder (world-traversable: the client may be unprivileged). */
export async function startBuildBox(dir: string): Promise<BuildBox> {
  const { uid, gid, home } = ensureUser();
  const rig = join(dir, 'sshd');
  mkdirSync(rig, { recursive: true, mode: 0o755 });
  chmodSync(dir, 0o755);
  chmodSync(rig, 0o755);
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(rig, 'host_key')]);
  run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'atlas-test', '-f', join(rig, 'good_key')]);
  run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'atlas-wrong', '-f', join(rig, 'wrong_key')]);
  // in the account's home, as on a real box: sshd's StrictModes refuses a key file under /tmp (world-writable)
  const dotSsh = join(home, '.ssh');
  mkdirSync(dotSsh, { recursive: true, mode: 0o700 });
  writeFileSync(join(dotSsh, 'authorized_keys'), readFileSync(join(rig, 'good_key.pub')), { mode: 0o600 });
  chownSync(dotSsh, uid, gid);
  chownSync(join(dotSsh, 'authorized_keys'), uid, gid);
  const port = await freePort();
  const log = join(rig, 'sshd.log');
  writeFileSync(
    join(rig, 'sshd_config'),
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${join(rig, 'host_key')}`,
      `PidFile ${join(rig, 'sshd.pid')}`,
      'AuthorizedKeysFile .ssh/authorized_keys',
      `AllowUsers ${BUILD_USER}`,
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PubkeyAuthentication yes',
      'UsePAM no',
      'StrictModes yes',
      'PermitRootLogin no',
      'LogLevel VERBOSE',
      // scp speaks SFTP since OpenSSH 9.0 (the bench's reference)
      'Subsystem sftp /usr/lib/openssh/sftp-server',
      '',
    ].join('\n'),
  );
  const hostKey = readFileSync(join(rig, 'host_key.pub'), 'utf8').trim().split(' ').slice(0, 2).join(' ');
  writeFileSync(join(rig, 'known_hosts'), `[127.0.0.1]:${port} ${hostKey}\n`);
  writeFileSync(join(rig, 'no_known_hosts'), '');
  const sshd = spawn('/usr/sbin/sshd', ['-D', '-f', join(rig, 'sshd_config'), '-E', log], {
    stdio: 'ignore',
  });
  await waitForPort(port, sshd, log);

  let configs = 0;
  const clientConfig: BuildBox['clientConfig'] = (options) => {
    const n = ++configs;
    const owner = options.owner ?? 0;
    // ssh insists a private key be its user's alone: each config gets its own copy, owned by its user
    const key = join(rig, `key-${n}`);
    copyFileSync(join(rig, `${options.key ?? 'good'}_key`), key);
    chmodSync(key, 0o600);
    chownSync(key, owner, owner === 0 ? 0 : owner);
    const path = join(rig, `ssh_config-${n}`);
    writeFileSync(
      path,
      [
        `Host ${HOST_ALIAS}`,
        '  HostName 127.0.0.1',
        `  Port ${options.port ?? port}`,
        `  User ${BUILD_USER}`,
        `  IdentityFile ${key}`,
        '  IdentitiesOnly yes',
        '  IdentityAgent none',
        `  UserKnownHostsFile ${join(rig, options.knownHosts === 'none' ? 'no_known_hosts' : 'known_hosts')}`,
        '  GlobalKnownHostsFile /dev/null',
        '',
      ].join('\n'),
    );
    chmodSync(path, 0o644);
    return path;
  };

  return {
    port,
    home,
    uid,
    gid,
    config: clientConfig({}),
    clientConfig,
    sessionsRunning(pattern) {
      // by uid: ps shortens long user names (atlas-b+)
      const out = tryRun('ps', ['-e', '-o', 'pid=,ppid=,uid=,args=']).stdout;
      const rows = out
        .split('\n')
        .map((l) => /^\s*(\d+)\s+(\d+)\s+(\S+)\s+(.*)$/.exec(l))
        .filter((m): m is RegExpExecArray => m !== null);
      const parents = rows
        .filter((m) => Number(m[3]) === uid && pattern.test(m[4]!))
        .map((m) => Number(m[2]));
      // the per-connection sshd that runs the command (sshd: atlas-build@notty) is the command's parent
      return rows
        .filter((m) => parents.includes(Number(m[1])) && /^sshd:/.test(m[4]!))
        .map((m) => Number(m[1]));
    },
    async stop() {
      if (sshd.exitCode === null) {
        const exited = new Promise((r) => sshd.once('exit', r));
        sshd.kill('SIGTERM');
        await exited;
      }
      rmSync(rig, { recursive: true, force: true });
    },
  };
}
