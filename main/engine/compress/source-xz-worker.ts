/**
 * Worker thread: decodes an .xz file with xz-decompress (WebAssembly) and posts the decoded chunks to the
 * parent, at most `window` unacknowledged at a time. Used only when the xz binary is missing.
 */
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { parentPort, workerData } from 'node:worker_threads';
import { XzReadableStream } from 'xz-decompress';

export type WorkerMessage =
  | { type: 'data'; chunk: ArrayBuffer; compressed: number }
  | { type: 'end'; compressed: number }
  | { type: 'error'; reason: string; io: boolean; compressed: number };

/** xz-embedded's xz_ret codes, which xz-decompress reports as "error code N". */
const XZ_ERRORS: Record<string, string> = {
  '2': 'unsupported integrity check',
  '3': 'out of memory',
  '4': 'memory limit reached',
  '5': 'not an xz stream',
  '6': 'unsupported xz options',
  '7': 'compressed data is corrupt',
  '8': 'unexpected end of input',
};

function describe(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = /error code (\d+)/.exec(message)?.[1];
  return (code && XZ_ERRORS[code]) ?? message;
}

async function main(): Promise<void> {
  const port = parentPort;
  if (!port) return;
  const { path, window } = workerData as { path: string; window: number };
  let credit = window;
  let wake: (() => void) | null = null;
  port.on('message', (message: { ack: number }) => {
    credit += message.ack;
    wake?.();
    wake = null;
  });
  let compressed = 0;
  let ioError: Error | null = null;
  const file = createReadStream(path, { highWaterMark: 1024 * 1024 });
  file.on('data', (chunk: string | Buffer) => {
    compressed += chunk.length;
  });
  file.on('error', (error) => {
    ioError = error;
  });
  const web = Readable.toWeb(file) as unknown as ReadableStream<Uint8Array>;
  const decoded = new XzReadableStream(web) as unknown as WebReadableStream<Uint8Array>;
  const reader = decoded.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (value.byteLength === 0) continue;
      while (credit <= 0) await new Promise<void>((resolve) => (wake = resolve));
      credit -= 1;
      // Copy into a transferable buffer: the decoder may reuse its wasm memory.
      const copy = new Uint8Array(value.byteLength);
      copy.set(value);
      const message: WorkerMessage = { type: 'data', chunk: copy.buffer, compressed };
      port.postMessage(message, [copy.buffer]);
    }
    port.postMessage({ type: 'end', compressed } satisfies WorkerMessage);
  } catch (error) {
    const io = ioError as Error | null;
    const reason = io ? io.message : describe(error);
    port.postMessage({ type: 'error', reason, io: io !== null, compressed } satisfies WorkerMessage);
  }
  port.close();
}

void main();
