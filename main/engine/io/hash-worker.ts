/**
 * XXH3-64 off the main thread (see hash-pool.ts): hashes a range of a SharedArrayBuffer the main thread is
 * writing to a card (or has just read back), so hashing overlaps the device I/O.
 */
import { parentPort } from 'node:worker_threads';
import { createXXHash3, type IHasher } from 'hash-wasm';

interface HashRequest {
  id: number;
  memory: SharedArrayBuffer;
  offset: number;
  length: number;
}

let hasher: Promise<IHasher> | null = null;

parentPort!.on('message', (request: HashRequest) => {
  hasher ??= createXXHash3();
  // requests are answered in order: each waits for the one instance, which is used synchronously
  void hasher
    .then((h) => {
      h.init();
      h.update(new Uint8Array(request.memory, request.offset, request.length));
      parentPort!.postMessage({ id: request.id, hash: h.digest('hex') });
    })
    .catch((error: unknown) => {
      parentPort!.postMessage({
        id: request.id,
        error: error instanceof Error ? error.message : String(error),
      });
    });
});
