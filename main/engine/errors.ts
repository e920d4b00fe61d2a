/**
 * One error type for the whole engine: a stable code that tests and the UI can match on, and a sentence
 * a person can act on. The CLI prints the sentence; the renderer shows it; tests assert the code.
 */
import type { AtlasErrorCode } from '../contract';

export type { AtlasErrorCode };

export class AtlasError extends Error {
  override readonly name = 'AtlasError';
  constructor(
    readonly code: AtlasErrorCode,
    message: string,
    /** Machine-readable facts behind the message (offsets, block numbers, sizes); never secrets. */
    readonly details: Record<string, unknown> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  toJSON(): { code: AtlasErrorCode; message: string; details: Record<string, unknown> } {
    return { code: this.code, message: this.message, details: this.details };
  }
}

export function isAtlasError(error: unknown, code?: AtlasErrorCode): error is AtlasError {
  return error instanceof AtlasError && (code === undefined || error.code === code);
}

/** Throws CANCELLED when the job's signal has fired; call it between units of work. */
export function throwIfCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AtlasError('CANCELLED', 'The operation was cancelled.');
}

/**
 * A stream that `signal` cancels: destroyed with CANCELLED when it fires (or at once, on the next turn, when it
 * already has), the listener dropped when the stream closes.
 */
export function destroyOnAbort(
  stream: { destroy(error: Error): unknown; once(event: 'close', listener: () => void): unknown },
  signal: AbortSignal | undefined,
): void {
  if (!signal) return;
  const onAbort = () => stream.destroy(new AtlasError('CANCELLED', 'The operation was cancelled.'));
  if (signal.aborted) return queueMicrotask(onAbort);
  signal.addEventListener('abort', onAbort, { once: true });
  stream.once('close', () => signal.removeEventListener('abort', onAbort));
}

/**
 * Turns an unknown failure into an AtlasError, keeping AtlasErrors as they are and giving the common
 * system errors a sentence (a removed card, a locked card, a missing permission).
 */
export function toAtlasError(error: unknown, context = ''): AtlasError {
  if (error instanceof AtlasError) return error;
  const where = context ? `${context}: ` : '';
  const sys = error as NodeJS.ErrnoException | undefined;
  const text = sys?.message ?? String(error);
  switch (sys?.code) {
    case 'ABORT_ERR':
      return new AtlasError('CANCELLED', 'The operation was cancelled.', {}, { cause: error });
    case 'ENOENT':
      return new AtlasError(
        'NOT_FOUND',
        `${where}${sys.path ?? 'file'} does not exist.`,
        {},
        { cause: error },
      );
    case 'EEXIST':
      return new AtlasError(
        'ALREADY_EXISTS',
        `${where}${sys.path ?? 'file'} already exists.`,
        {},
        { cause: error },
      );
    case 'EACCES':
    case 'EPERM':
      return new AtlasError(
        'PERMISSION_DENIED',
        `${where}permission denied (${sys.path ?? text}). Run as root, or on macOS give Atlas Imager Full Disk Access.`,
        {},
        { cause: error },
      );
    case 'EROFS':
      return new AtlasError(
        'READ_ONLY',
        `${where}the target is read-only. If it is an SD card, slide its lock switch to unlocked.`,
        {},
        { cause: error },
      );
    case 'ENXIO':
    case 'ENODEV':
      return new AtlasError(
        'DRIVE_REMOVED',
        `${where}the device went away. Was the card removed? Check the reader and try again.`,
        {},
        { cause: error },
      );
    case 'EIO':
      return new AtlasError(
        'IO_ERROR',
        `${where}input/output error. The card, the reader or the port may be faulty.`,
        {},
        { cause: error },
      );
    case 'ENOSPC':
      return new AtlasError('TARGET_TOO_SMALL', `${where}no space left on the target.`, {}, { cause: error });
    default:
      return new AtlasError('INTERNAL', `${where}${text}`, {}, { cause: error });
  }
}
