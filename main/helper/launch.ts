/**
 * The app side of the helper: a 0700 folder holding a Unix socket and a 0600 token file, then the helper
 * process started elevated (@vscode/sudo-prompt: pkexec on Linux, the system dialog on macOS) or directly
 * when we are root already. The token never appears on a command line; the helper reads it from the file.
 *
 * One helper per job: `runInHelper('flash', options, control)` resolves with the job's result, streams its
 * progress to control.onProgress and forwards control.signal as a cancel.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as sudo from '@vscode/sudo-prompt';
import { AtlasError } from '../engine/errors';
import { unpackedPath } from '../engine/resources';
import type { JobControl, Progress } from '../engine/progress';
import { SOCKET_NAME, TOKEN_NAME } from './identity';
import {
  deserializeError,
  onLines,
  parseHelperMessage,
  send,
  userEnvOf,
  type HelperMessage,
} from './protocol';

export interface HelperLaunchOptions {
  /** 'auto' (default): directly when root, else elevated. 'direct': as this user (tests). 'elevated': always prompt. */
  mode?: 'auto' | 'direct' | 'elevated';
  /** A Node-compatible executable (default process.execPath, Electron runs as Node). */
  execPath?: string;
  /** The helper entry script (default: the compiled main.js next to this file). */
  entry?: string;
  /** The name shown in the password dialog. */
  name?: string;
  /** Called once the helper has connected and proved the token (its pid, for logs and tests). */
  onConnected?: (pid: number) => void;
  /** How long to wait for the helper to connect after the prompt closed (ms). */
  connectTimeoutMs?: number;
}

/** Who the job's files belong to: this process's user, or under `sudo` the person who typed it. */
export interface ChannelOwner {
  uid: number;
  gid: number;
}

/** The channel before the helper connected; exposed for tests and for a custom launcher. */
export interface HelperChannel {
  dir: string;
  socketPath: string;
  tokenPath: string;
  /** the helper's arguments: --socket=… --token-file=… */
  args: string[];
  /** Resolves with the authenticated socket of the first client that presents the token. */
  connected: Promise<{ socket: Socket; pid: number }>;
  close(): Promise<void>;
}

const HELLO_TIMEOUT_MS = 10_000;

/**
 * The channel folder, socket and token. The broker takes their owner for the person the job runs as, so
 * under `sudo` (`owner`, see sudoOwner) they are handed to the person who typed it.
 */
export async function createHelperChannel(owner?: ChannelOwner): Promise<HelperChannel> {
  const dir = await fsp.mkdtemp(join(tmpdir(), 'atlas-helper-'));
  await fsp.chmod(dir, 0o700);
  const socketPath = join(dir, SOCKET_NAME);
  const tokenPath = join(dir, TOKEN_NAME);
  const token = randomBytes(32).toString('hex');
  await fsp.writeFile(tokenPath, token, { mode: 0o600, flag: 'wx' });
  const server: Server = createServer();
  let settle: { resolve: (v: { socket: Socket; pid: number }) => void; reject: (e: Error) => void } | null =
    null;
  const connected = new Promise<{ socket: Socket; pid: number }>((resolve, reject) => {
    settle = { resolve, reject };
  });
  connected.catch(() => undefined);
  server.on('connection', (socket) => {
    let authenticated = false;
    const timer = setTimeout(() => socket.destroy(), HELLO_TIMEOUT_MS);
    onLines(socket, parseHelperMessage, (hello) => {
      if (authenticated) return; // later lines belong to the job runner's listener
      clearTimeout(timer);
      if (hello.type !== 'hello' || !sameToken(hello.token, token)) {
        send(socket, { type: 'refused', message: 'wrong token' });
        socket.end();
        setTimeout(() => socket.destroy(), 100);
        return;
      }
      authenticated = true;
      // one helper per channel: no one else gets in once it has connected
      server.close();
      void fsp.rm(socketPath, { force: true });
      socket.removeAllListeners('data');
      settle?.resolve({ socket, pid: hello.pid });
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => resolve());
  });
  await fsp.chmod(socketPath, 0o600);
  if (owner) {
    for (const path of [tokenPath, socketPath, dir]) await fsp.lchown(path, owner.uid, owner.gid);
  }
  return {
    dir,
    socketPath,
    tokenPath,
    args: [`--socket=${socketPath}`, `--token-file=${tokenPath}`],
    connected,
    async close() {
      server.close();
      settle?.reject(new AtlasError('CANCELLED', 'The helper channel was closed.'));
      await fsp.rm(dir, { recursive: true, force: true });
    },
  };
}

function sameToken(given: string, token: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Runs one registered helper job (see registry.ts) elevated, and resolves with its result. */
export async function runInHelper<R>(
  job: string,
  options: unknown,
  control: JobControl = {},
  launch: HelperLaunchOptions = {},
): Promise<R> {
  if (control.signal?.aborted) throw new AtlasError('CANCELLED', 'The operation was cancelled.');
  const channel = await createHelperChannel(sudoOwner());
  let child: ChildProcess | null = null;
  try {
    const started = startHelper(channel, launch);
    child = started.child;
    // a person may take a while to type the password; a direct start connects in well under a second
    const timeout = launch.connectTimeoutMs ?? (started.child ? 30_000 : 600_000);
    const { socket, pid } = await Promise.race([
      channel.connected,
      started.exited.then((error) => {
        throw error ?? new AtlasError('ELEVATION_FAILED', 'The helper exited before connecting.');
      }),
      new Promise<never>((_, reject) =>
        setTimeout(
          () => reject(new AtlasError('ELEVATION_FAILED', 'The privileged helper did not start in time.')),
          timeout,
        ).unref(),
      ),
      ...(control.signal ? [abortPromise(control.signal)] : []),
    ]);
    launch.onConnected?.(pid);
    return await driveJob<R>(socket, job, options, control);
  } finally {
    await channel.close();
    if (child && child.exitCode === null) {
      // it exits by itself once the socket closes; make sure of it
      setTimeout(() => child?.exitCode === null && child.kill('SIGTERM'), 5000).unref();
    }
  }
}

function abortPromise(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    const fire = (): void => reject(new AtlasError('CANCELLED', 'The operation was cancelled.'));
    if (signal.aborted) fire();
    else signal.addEventListener('abort', fire, { once: true });
  });
}

function driveJob<R>(socket: Socket, job: string, options: unknown, control: JobControl): Promise<R> {
  return new Promise<R>((resolve, reject) => {
    let done = false;
    const finish = (error: Error | null, result?: unknown): void => {
      if (done) return;
      done = true;
      control.signal?.removeEventListener('abort', onAbort);
      socket.end();
      if (error) reject(error);
      else resolve(result as R);
    };
    const onAbort = (): void => {
      send(socket, { type: 'cancel' });
      // a helper that does not stop in time is cut off; it exits when the socket closes
      setTimeout(() => {
        if (!done) {
          socket.destroy();
          finish(new AtlasError('CANCELLED', 'The operation was cancelled.'));
        }
      }, 15_000).unref();
    };
    onLines(socket, parseHelperMessage, (message: HelperMessage) => {
      if (message.type === 'progress') control.onProgress?.(message.progress as Progress);
      else if (message.type === 'result') finish(null, message.result);
      else if (message.type === 'error') finish(deserializeError(message.error));
    });
    socket.on('close', () =>
      finish(
        control.signal?.aborted
          ? new AtlasError('CANCELLED', 'The operation was cancelled.')
          : new AtlasError('INTERNAL', 'The privileged helper stopped unexpectedly (it may have crashed).'),
      ),
    );
    socket.on('error', () => undefined);
    control.signal?.addEventListener('abort', onAbort, { once: true });
    send(socket, { type: 'run', job, options, env: userEnvOf(process.env) });
  });
}

/** In the package, the copy root can read outside app.asar (see resources.ts); the worker sits beside it. */
function defaultEntry(): string {
  return unpackedPath(join(__dirname, 'main.js'));
}

function quote(arg: string): string {
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/**
 * The command line the password prompt runs as root. It carries everything the broker needs, since pkexec
 * (and the macOS dialog) start it with a fresh environment: under Electron, `/usr/bin/env
 * ELECTRON_RUN_AS_NODE=1` in front, or root would start the app's browser instead of Node.
 */
export function elevatedCommand(
  execPath: string,
  entry: string,
  args: readonly string[],
  electron: boolean,
): string {
  const prefix = electron ? ['/usr/bin/env', 'ELECTRON_RUN_AS_NODE=1'] : [];
  return [...prefix, quote(execPath), quote(entry), ...args.map(quote)].join(' ');
}

/** Under `sudo` (root, SUDO_UID/SUDO_GID set): the person who typed it, who the job's files belong to. */
export function sudoOwner(env: NodeJS.ProcessEnv = process.env): ChannelOwner | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const uid = Number(env.SUDO_UID);
  const gid = Number(env.SUDO_GID);
  if (!env.SUDO_UID || !Number.isInteger(uid) || uid <= 0 || !Number.isInteger(gid) || gid < 0)
    return undefined;
  return { uid, gid };
}

/** Starts the helper; `exited` resolves (with an error when it failed to start) when it ends. */
function startHelper(
  channel: HelperChannel,
  launch: HelperLaunchOptions,
): { child: ChildProcess | null; exited: Promise<AtlasError | null> } {
  const execPath = launch.execPath ?? process.execPath;
  const entry = launch.entry ?? defaultEntry();
  const electron = Boolean(process.versions.electron);
  const mode = launch.mode ?? 'auto';
  const direct = mode === 'direct' || (mode === 'auto' && process.getuid?.() === 0);
  if (direct) {
    const child = spawn(execPath, [entry, ...channel.args], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, ...(electron ? { ELECTRON_RUN_AS_NODE: '1' } : {}) },
    });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    const exited = new Promise<AtlasError | null>((resolve) => {
      child.once('error', (e) =>
        resolve(new AtlasError('ELEVATION_FAILED', `Cannot start the helper: ${e.message}`)),
      );
      child.once('exit', (code) =>
        resolve(
          code === 0 ? null : new AtlasError('INTERNAL', `The helper exited with ${code}: ${stderr.trim()}`),
        ),
      );
    });
    return { child, exited };
  }
  const command = elevatedCommand(execPath, entry, channel.args, electron);
  const exited = new Promise<AtlasError | null>((resolve) => {
    // sudo-prompt buffers output and calls back when the helper exits; progress comes over the socket
    sudo.exec(command, { name: launch.name ?? 'Atlas Imager' }, (error) => {
      resolve(error ? elevationError(error) : null);
    });
  });
  return { child: null, exited };
}

/** Turns sudo-prompt's failures into sentences a user can act on. */
export function elevationError(error: Error): AtlasError {
  const text = error.message;
  if (/did not grant permission/i.test(text)) {
    return new AtlasError(
      'PERMISSION_DENIED',
      'Administrator access was not granted, so nothing was written.',
    );
  }
  if (/no polkit authentication agent/i.test(text)) {
    return new AtlasError(
      'ELEVATION_FAILED',
      'No polkit authentication agent is running, so the password dialog cannot open. Start one (for example ' +
        'lxpolkit or polkit-gnome) or run "sudo atlas …" from a terminal.',
    );
  }
  if (/unable to find pkexec/i.test(text)) {
    return new AtlasError(
      'ELEVATION_FAILED',
      'pkexec is not installed (package policykit-1 / polkitd), so Atlas Imager cannot ask for administrator access. ' +
        'Install it or run "sudo atlas …" from a terminal.',
    );
  }
  return new AtlasError('ELEVATION_FAILED', `Cannot get administrator access: ${text}`);
}
