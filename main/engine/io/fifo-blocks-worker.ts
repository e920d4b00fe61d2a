/**
 * The reading end of a FIFO, in its own thread (see fifo-blocks.ts): blocking reads straight into the shared
 * buffers the main thread asks it to fill, each filled whole before it answers.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import type { FifoReply, FifoRequest } from './fifo-blocks';

const port = parentPort!;
const { path } = workerData as { path: string };
let fd = -1;
let ended = false;

function post(reply: FifoReply): void {
  port.postMessage(reply);
}

try {
  // blocks until the writer opens its end: a plain blocking descriptor, unlike a libuv pipe
  fd = openSync(path, 'r');
  post({ type: 'open' });
} catch (error) {
  post({ type: 'error', message: (error as Error).message, code: (error as NodeJS.ErrnoException).code });
}

port.on('message', (request: FifoRequest) => {
  if (request.type === 'close') {
    if (fd >= 0) closeSync(fd);
    fd = -1;
    port.close();
    return;
  }
  const view = new Uint8Array(request.memory, request.offset, request.length);
  let filled = 0;
  try {
    // a pipe hands over what the writer has put in so far (xz writes 8 KiB at a time): loop until full
    while (!ended && filled < request.length) {
      const got = readSync(fd, view, filled, request.length - filled, null);
      if (got === 0) ended = true;
      filled += got;
    }
    post({ type: 'filled', id: request.id, length: filled });
  } catch (error) {
    post({
      type: 'error',
      id: request.id,
      message: (error as Error).message,
      code: (error as NodeJS.ErrnoException).code,
    });
  }
});
