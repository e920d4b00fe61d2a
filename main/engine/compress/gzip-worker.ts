/**
 * Worker thread of the parallel gzip writer: compresses one member (a complete gzip stream) per message.
 * Loaded by gzip-writer.ts from the compiled file next to it.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { gzipSync } from 'node:zlib';

const { level } = workerData as { level: number };

parentPort?.on('message', (message: { seq: number; data: Uint8Array }) => {
  try {
    const out = gzipSync(message.data, { level });
    // Hand the result back without a copy when it owns its whole ArrayBuffer.
    const owned =
      out.byteOffset === 0 && out.byteLength === out.buffer.byteLength
        ? out
        : Buffer.from(out.buffer.slice(out.byteOffset, out.byteOffset + out.byteLength));
    parentPort!.postMessage({ seq: message.seq, data: owned }, [owned.buffer as ArrayBuffer]);
  } catch (error) {
    parentPort!.postMessage({
      seq: message.seq,
      error: error instanceof Error ? error.message : String(error),
    });
  }
});
