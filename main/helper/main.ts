/**
 * The root broker, started elevated (pkexec / the macOS dialog, or directly when the caller is root): it
 * learns from the OS who the person is (identity.ts), connects to the app's socket, proves itself with the
 * token, and runs ONE job: it checks and opens the job's cards (cards.ts), starts the job worker as the person
 * with those descriptors (worker.ts), relays progress and the result, does the root-only steps the worker asks
 * for on those cards, and exits. If the socket closes (the app quit or crashed) the job is cancelled and the
 * broker exits, so no root process outlives the app.
 *
 * Arguments are `--KEY=value` only (the elevation resets the environment): --socket=PATH --token-file=PATH.
 * Every tool root runs comes from root-owned folders nobody else can write (trusted-tools.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { AtlasError, throwIfCancelled, toAtlasError } from '../engine/errors';
import { getHelperJob } from './registry';
import { checkChannel, type Channel } from './identity';
import { openCard, runRootStep, type OpenedCard } from './cards';
import { trustedPath } from './trusted-tools';
import {
  onLines,
  parseAppMessage,
  parseWorkerMessage,
  replyFor,
  send,
  serializeError,
  type AppMessage,
  type BrokerMessage,
  type InheritedCard,
  type UserEnv,
} from './protocol';
import './jobs';

/** The first descriptor of the worker holding a card: 0-2 stdio, 3 the IPC channel. */
const FIRST_CARD_FD = 4;

function argument(name: string): string {
  const prefix = `--${name}=`;
  const arg = process.argv.find((a) => a.startsWith(prefix));
  if (!arg) throw new AtlasError('INVALID_ARGUMENT', `The helper needs ${prefix}…`);
  return arg.slice(prefix.length);
}

async function main(): Promise<void> {
  const channel = await checkChannel(argument('socket'), argument('token-file'));
  // every program root runs (umount, lsblk, losetup, …) from root's own folders only
  process.env.PATH = trustedPath();
  const socket = connect(channel.socketPath);
  const controller = new AbortController();
  let running: Promise<void> | null = null;
  let worker: ChildProcess | null = null;

  socket.on('error', () => undefined);
  socket.on('close', () => {
    // the app is gone: stop the job, close the cards, leave
    controller.abort();
    worker?.send({ type: 'cancel' } satisfies BrokerMessage);
    const finished = running ?? Promise.resolve();
    const deadline = new Promise((resolve) => setTimeout(resolve, 10_000).unref());
    void Promise.race([finished, deadline]).then(() => {
      worker?.kill('SIGKILL');
      process.exit(0);
    });
  });
  socket.on('connect', () => send(socket, { type: 'hello', token: channel.token, pid: process.pid }));

  onLines(socket, parseAppMessage, (message: AppMessage) => {
    if (message.type === 'refused') {
      socket.destroy();
    } else if (message.type === 'cancel') {
      controller.abort();
      worker?.send({ type: 'cancel' } satisfies BrokerMessage);
    } else if (message.type === 'run' && running === null) {
      running = (async () => {
        const reply = await replyFor(
          () => runJob(message, channel, controller.signal, socket, (w) => (worker = w)),
          controller.signal,
        );
        send(socket, reply);
        socket.end();
      })();
    }
  });
}

async function runJob(
  message: Extract<AppMessage, { type: 'run' }>,
  channel: Channel,
  signal: AbortSignal,
  socket: Socket,
  onWorker: (worker: ChildProcess) => void,
): Promise<unknown> {
  const job = getHelperJob(message.job);
  const options = job.check(message.options);
  const opened: OpenedCard[] = [];
  try {
    for (const request of job.cards(options)) {
      throwIfCancelled(signal);
      opened.push(await openCard(request));
    }
    throwIfCancelled(signal);
    return await runWorker(message, options, opened, channel, socket, onWorker);
  } finally {
    await Promise.all(opened.map((c) => c.handle.close().catch(() => undefined)));
  }
}

/** Starts the worker as the person, hands it the cards, and resolves with its result. */
function runWorker(
  message: Extract<AppMessage, { type: 'run' }>,
  options: unknown,
  opened: OpenedCard[],
  channel: Channel,
  socket: Socket,
  onWorker: (worker: ChildProcess) => void,
): Promise<unknown> {
  const child = spawn(process.execPath, [join(__dirname, 'worker.js')], {
    uid: channel.uid,
    gid: channel.gid,
    cwd: '/',
    env: workerEnv(message.env),
    stdio: ['ignore', 'ignore', 'pipe', 'ipc', ...opened.map((c) => c.handle.fd)],
  });
  onWorker(child);
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const cards: InheritedCard[] = opened.map((c, i) => ({ ...c.facts, fd: FIRST_CARD_FD + i }));
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (error: Error | null, value?: unknown): void => {
      if (settled) return;
      settled = true;
      if (error) reject(error);
      else resolve(value);
    };
    child.on('message', (raw: unknown) => {
      const m = parseWorkerMessage(raw);
      if (m === null) {
        child.kill('SIGKILL');
        settle(new AtlasError('INTERNAL', 'The job sent a malformed message and was stopped.'));
      } else if (m.type === 'progress') {
        send(socket, m);
      } else if (m.type === 'result') {
        settle(null, m.result);
      } else if (m.type === 'error') {
        settle(new AtlasError(m.error.code, m.error.message, m.error.details));
      } else {
        const { id, type: _type, ...step } = m;
        // settled both ways into a reply; a worker gone meanwhile is noticed by its 'close'
        void runRootStep(step, opened, {
          onProgress: (progress) => send(socket, { type: 'progress', progress }),
        })
          .then(
            (value) => ({ type: 'root-done' as const, id, value }),
            (error: unknown) => ({
              type: 'root-done' as const,
              id,
              error: serializeError(toAtlasError(error)),
            }),
          )
          .then((reply) => child.connected && child.send(reply satisfies BrokerMessage));
      }
    });
    child.once('error', (e) =>
      settle(new AtlasError('INTERNAL', `Cannot start the job as your user: ${e.message}`)),
    );
    child.once('close', (code, sig) =>
      settle(
        new AtlasError(
          'INTERNAL',
          `The job stopped unexpectedly (${sig ?? `exit ${code}`}): ${stderr.trim() || 'no message'}`,
        ),
      ),
    );
    child.send({ type: 'run', job: message.job, options, cards } satisfies BrokerMessage);
  });
}

/** The worker's environment: the person's PATH, HOME and locale, nothing of root's. */
function workerEnv(user: UserEnv): NodeJS.ProcessEnv {
  return {
    PATH: user.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    ...(user.HOME ? { HOME: user.HOME } : {}),
    ...(user.LANG ? { LANG: user.LANG } : {}),
    ...(user.LC_ALL ? { LC_ALL: user.LC_ALL } : {}),
    // the broker runs as Electron-as-Node when started that way: so does its worker
    ...(process.versions.electron || process.env.ELECTRON_RUN_AS_NODE === '1'
      ? { ELECTRON_RUN_AS_NODE: '1' }
      : {}),
  };
}

main().catch((error: unknown) => {
  process.stderr.write(`atlas-helper: ${toAtlasError(error).message}\n`);
  process.exit(1);
});
