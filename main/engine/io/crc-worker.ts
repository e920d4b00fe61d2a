/**
 * CRC-32 off the main thread (see crc-pool.ts): computes the CRC of a range of a SharedArrayBuffer the main
 * thread is writing to a card (or has just read back), so hashing overlaps the device I/O without a copy.
 */
import { parentPort } from 'node:worker_threads';
import { crc32 } from 'node:zlib';

interface CrcRequest {
  id: number;
  memory: SharedArrayBuffer;
  offset: number;
  length: number;
}

parentPort!.on('message', (request: CrcRequest) => {
  try {
    const crc = crc32(new Uint8Array(request.memory, request.offset, request.length));
    parentPort!.postMessage({ id: request.id, crc });
  } catch (error) {
    parentPort!.postMessage({
      id: request.id,
      error: error instanceof Error ? error.message : String(error),
    });
  }
});
