/**
 * The engine's Node-API addon (native/atlas-io, built with the project by node-gyp and packed per architecture,
 * see scripts/build-native.mjs): the descriptor controls Node has no API for (cache.ts), the block hash
 * (hash-pool.ts) and a fast CRC-32 (crc32.ts). An addon of our own rather than an FFI package: two fcntl calls,
 * a hash and a CRC do not need a foreign-function library shipping binaries for every platform. Everything that
 * uses it has a fallback, so a build without it still works, slower or less sure of the medium.
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';

export interface Addon {
  nocache(fd: number): Promise<void>;
  fullsync(fd: number): Promise<void>;
  /**
   * XXH3-64 of each `segment`-byte piece of view[0, length), 16 hex digits each, hashed off the JS thread.
   * `portable` (tests only): the C loop an Apple-silicon Mac runs, even where the AVX2 one runs.
   */
  xxh3Segments(view: Uint8Array, length: number, segment: number, portable?: boolean): Promise<string[]>;
  /** the same, on the calling thread */
  xxh3SegmentsSync(view: Uint8Array, length: number, segment: number, portable?: boolean): string[];
  /** the AVX2 loop of XXH3 runs on this CPU */
  xxh3Wide: boolean;
  /**
   * pread()s `length` bytes at `position` into view[0, length) (less only at the end), then the XXH3-64 of each
   * `segment` of view[hashAt, hashAt + hashLength), on the same libuv thread; no hashes when the read came back
   * short. A failed read rejects as Node's fs does (code, errno, syscall).
   */
  readHash(
    fd: number,
    view: Uint8Array,
    length: number,
    position: number,
    hashAt: number,
    hashLength: number,
    segment: number,
  ): Promise<{ bytesRead: number; hashes: string[] }>;
  /** the CRC-32 register after the view's bytes, no inversions (crc32.ts) */
  crc32Raw(view: Uint8Array, register: number): number;
  /** the folding (PCLMULQDQ) CRC runs on this CPU */
  crc32Fast: boolean;
}

let addon: Addon | null | undefined;

/** The addon beside the compiled engine (out/native), or null where it was not built. */
export function loadAddon(): Addon | null {
  if (addon === undefined) {
    try {
      // out/main/engine/io → out/native; electron-builder unpacks *.node, so this resolves in the package too
      addon = createRequire(__filename)(
        join(__dirname, '..', '..', '..', 'native', 'atlas_io.node'),
      ) as Addon;
    } catch {
      addon = null;
    }
  }
  return addon;
}
