/**
 * The system's OpenSSH client, spawned: the person's ~/.ssh/config (host aliases, keys, ports), agent and
 * known_hosts apply as they do in their Terminal. Atlas adds only what keeps it safe and non-interactive:
 *   BatchMode=yes               never a password or passphrase prompt (there is no terminal; nothing is stored)
 *   StrictHostKeyChecking=yes   an unknown or changed host key is refused, never silently accepted
 *   ConnectTimeout, ServerAlive a switched-off box or a dropped link ends in seconds, not at TCP's timeout
 * ssh's own failures (exit 255) become AtlasErrors a person can act on (sshFailure).
 *
 * Remote commands run in the login shell of the remote user: they are built from shellQuote'd words only.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { AtlasError } from '../errors';
import { formatRemoteFolder, type RemoteFolder } from '../../shared/remote-folders';

export interface SshOptions {
  /** the ssh program (default `ssh` on the PATH) */
  program?: string;
  /** an ssh_config file used instead of ~/.ssh/config (`ssh -F`; tests, and ATLAS_SSH_CONFIG) */
  configFile?: string;
}

/** ATLAS_SSH_CONFIG names an ssh_config file to use instead of ~/.ssh/config (tests and scripts). */
export function sshOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): SshOptions {
  return env.ATLAS_SSH_CONFIG ? { configFile: env.ATLAS_SSH_CONFIG } : {};
}

const FIXED_OPTIONS = [
  'BatchMode=yes',
  'StrictHostKeyChecking=yes',
  'ConnectTimeout=15',
  'ServerAliveInterval=10',
  'ServerAliveCountMax=3',
  // no forwarding of the agent, X11 or ports to the build box: it only sends files
  'ForwardAgent=no',
  'ForwardX11=no',
  'ClearAllForwardings=yes',
];

/** ssh's arguments to run `command` on the folder's host. */
export function sshArgs(remote: RemoteFolder, command: string, options: SshOptions = {}): string[] {
  return [
    ...(options.configFile ? ['-F', options.configFile] : []),
    ...FIXED_OPTIONS.flatMap((o) => ['-o', o]),
    '-T',
    ...(remote.port !== null ? ['-p', String(remote.port)] : []),
    ...(remote.user !== null ? ['-l', remote.user] : []),
    '--',
    remote.host,
    command,
  ];
}

/** One word for a POSIX shell, whatever it contains. */
export function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** A remote path as a shell word: `~/x` becomes "$HOME"/'x' (a quoted ~ is not expanded). */
export function remotePathWord(path: string): string {
  if (path === '~') return '"$HOME"';
  if (path.startsWith('~/')) return `"$HOME"/${shellQuote(path.slice(2))}`;
  return shellQuote(path);
}

export interface RunningCommand {
  child: ChildProcess;
  /** resolves when ssh has exited, with its exit code (null when killed) and the end of its stderr */
  exit: Promise<{ code: number | null; stderr: string }>;
}

/** Starts `command` on the host; its output goes to `stdout` (a file descriptor), else to child.stdout. */
export function startRemote(
  remote: RemoteFolder,
  command: string,
  options: SshOptions & { signal?: AbortSignal | undefined; stdout?: number } = {},
): RunningCommand {
  const child = spawn(options.program ?? 'ssh', sshArgs(remote, command, options), {
    stdio: ['ignore', options.stdout ?? 'pipe', 'pipe'],
    ...(options.signal ? { signal: options.signal } : {}),
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (text: string) => {
    stderr = (stderr + text).slice(-8192);
  });
  const exit = new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
    child.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') {
        reject(
          new AtlasError(
            'UNSUPPORTED',
            'The ssh program is not installed on this computer: install OpenSSH to reach remote build folders.',
          ),
        );
      } else if (error.name !== 'AbortError') reject(error);
    });
    child.on('close', (code) => resolve({ code, stderr }));
  });
  exit.catch(() => undefined);
  return { child, exit };
}

/** Runs `command` on the host and collects its output (at most `maxBytes`; more is an error). */
export async function runRemote(
  remote: RemoteFolder,
  command: string,
  options: SshOptions & { signal?: AbortSignal | undefined; maxBytes?: number } = {},
): Promise<{ code: number; stdout: Buffer; stderr: string }> {
  const { child, exit } = startRemote(remote, command, options);
  const limit = options.maxBytes ?? 64 * 1024 * 1024;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of child.stdout! as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      child.kill();
      throw new AtlasError('INTERNAL', `The build box sent more than ${limit} bytes for a listing.`);
    }
    chunks.push(chunk);
  }
  const { code, stderr } = await exit;
  if (options.signal?.aborted) throw new AtlasError('CANCELLED', 'The operation was cancelled.');
  if (code === null || code === 255) throw sshFailure(remote, stderr);
  return { code, stdout: Buffer.concat(chunks), stderr };
}

/**
 * What went wrong when ssh itself failed (exit 255), in words for the app. `dropped` marks a connection that was
 * up and went away: worth resuming.
 */
export function sshFailure(remote: RemoteFolder, stderr: string): AtlasError {
  const where = remote.port !== null ? `${remote.host} (port ${remote.port})` : remote.host;
  const folder = formatRemoteFolder(remote);
  const said = lastLine(stderr);
  const details = { folder, ssh: said };
  if (/REMOTE HOST IDENTIFICATION HAS CHANGED/i.test(stderr)) {
    return new AtlasError(
      'SSH_HOST_KEY',
      `${where} answered with another host key than the one this computer knows: it may have been reinstalled, or someone may be in between. Nothing was copied.`,
      details,
    );
  }
  if (/host key is known|Host key verification failed|no matching host key/i.test(stderr)) {
    return new AtlasError(
      'SSH_HOST_KEY',
      `${where} is not yet a known host on this computer, so Atlas Imager did not connect. Connect once in a Terminal with "ssh ${remote.user ? `${remote.user}@` : ''}${remote.host}${remote.port !== null ? ` -p ${remote.port}` : ''}", check the fingerprint it shows against the build box's, and accept it.`,
      details,
    );
  }
  if (/Permission denied|Too many authentication failures|no more authentication methods/i.test(stderr)) {
    return new AtlasError(
      'SSH_AUTH_FAILED',
      `${where} refused the sign-in${remote.user ? ` as ${remote.user}` : ''}: none of your SSH keys was accepted (Atlas Imager never asks for a password).`,
      details,
    );
  }
  if (
    /Could not resolve hostname|Connection refused|Connection timed out|timed out|No route to host|Network is unreachable|Name or service not known/i.test(
      stderr,
    ) &&
    !/Timeout, server .* not responding/i.test(stderr)
  ) {
    return new AtlasError('SSH_UNREACHABLE', `Cannot reach ${where}: ${said || 'no answer'}.`, details);
  }
  return new AtlasError(
    'SSH_UNREACHABLE',
    `The connection to ${where} was lost${said ? ` (${said})` : ''}.`,
    { ...details, dropped: true },
  );
}

/** A connection that was up and went away (worth resuming), as sshFailure marks it. */
export function isDroppedConnection(error: unknown): boolean {
  return error instanceof AtlasError && error.code === 'SSH_UNREACHABLE' && error.details.dropped === true;
}

function lastLine(stderr: string): string {
  const lines = stderr
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !/^Warning: Permanently added/i.test(l));
  return (lines.at(-1) ?? '').replace(/\.$/, '');
}
