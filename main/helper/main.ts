/**
 * The elevated helper process: connects to the app's socket, proves itself with the token, runs ONE job and
 * exits. If the socket closes (the app quit or crashed) the job is cancelled and the helper exits, so no root
 * process outlives the app.
 *
 * Arguments are `--KEY=value` only (sudo-prompt resets the environment): --socket=PATH --token-file=PATH.
 */
import { promises as fsp } from 'node:fs';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import { AtlasError, toAtlasError } from '../engine/errors';
import { getHelperJob } from './registry';
import { onLines, send, serializeError, type AppMessage } from './protocol';
import './jobs';

function argument(name: string): string {
  const prefix = `--${name}=`;
  const arg = process.argv.find((a) => a.startsWith(prefix));
  if (!arg) throw new AtlasError('INVALID_ARGUMENT', `The helper needs ${prefix}…`);
  return arg.slice(prefix.length);
}

async function readToken(tokenPath: string): Promise<string> {
  // the folder must be private: anyone able to swap the socket could feed us jobs
  const dir = await fsp.stat(dirname(tokenPath));
  if ((dir.mode & 0o077) !== 0)
    throw new AtlasError('PERMISSION_DENIED', 'The helper folder is not private (0700).');
  return (await fsp.readFile(tokenPath, 'utf8')).trim();
}

async function main(): Promise<void> {
  const socketPath = argument('socket');
  const token = await readToken(argument('token-file'));
  const socket = connect(socketPath);
  const controller = new AbortController();
  let running: Promise<void> | null = null;

  socket.on('error', () => undefined);
  socket.on('close', () => {
    // the app is gone: stop writing, close the device, leave
    controller.abort();
    const finished = running ?? Promise.resolve();
    const deadline = new Promise((resolve) => setTimeout(resolve, 10_000).unref());
    void Promise.race([finished, deadline]).then(() => process.exit(0));
  });
  socket.on('connect', () => send(socket, { type: 'hello', token, pid: process.pid }));

  onLines(socket, (raw) => {
    const message = raw as AppMessage;
    if (message.type === 'refused') {
      socket.destroy();
    } else if (message.type === 'cancel') {
      controller.abort();
    } else if (message.type === 'run' && running === null) {
      running = (async () => {
        try {
          const job = getHelperJob(message.job);
          const result = await job(message.options, {
            signal: controller.signal,
            onProgress: (progress) => send(socket, { type: 'progress', progress }),
          });
          send(socket, { type: 'result', result });
        } catch (error) {
          const e = controller.signal.aborted
            ? new AtlasError('CANCELLED', 'The operation was cancelled.')
            : toAtlasError(error);
          send(socket, { type: 'error', error: serializeError(e) });
        } finally {
          socket.end();
        }
      })();
    }
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`atlas-helper: ${toAtlasError(error).message}\n`);
  process.exit(1);
});
