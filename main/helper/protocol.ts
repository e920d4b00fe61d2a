/**
 * The helper channel: newline-delimited JSON over a Unix socket the app created in a 0700 folder. The helper
 * speaks first with the one-time token; nothing else is accepted before that.
 */
import type { Socket } from 'node:net';
import { AtlasError, type AtlasErrorCode } from '../engine/errors';
import type { Progress } from '../engine/progress';

export interface SerializedError {
  code: AtlasErrorCode;
  message: string;
  details: Record<string, unknown>;
}

/** helper → app */
export type HelperMessage =
  | { type: 'hello'; token: string; pid: number }
  | { type: 'progress'; progress: Progress }
  | { type: 'result'; result: unknown }
  | { type: 'error'; error: SerializedError };

/** app → helper */
export type AppMessage =
  { type: 'run'; job: string; options: unknown } | { type: 'cancel' } | { type: 'refused'; message: string };

/** Lines longer than this are a protocol violation (nothing legitimate comes close). */
const MAX_LINE = 1024 * 1024;

export function send(socket: Socket, message: HelperMessage | AppMessage): void {
  if (!socket.destroyed && socket.writable) socket.write(`${JSON.stringify(message)}\n`);
}

/** Calls `onMessage` for each JSON line; a malformed or oversized line destroys the socket. */
export function onLines(socket: Socket, onMessage: (message: unknown) => void): void {
  let pending = '';
  socket.setEncoding('utf8');
  socket.on('data', (data: string) => {
    pending += data;
    let newline: number;
    while ((newline = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      if (line.trim() === '') continue;
      let message: unknown;
      try {
        message = JSON.parse(line);
      } catch {
        socket.destroy(new Error('malformed message on the helper channel'));
        return;
      }
      onMessage(message);
    }
    if (pending.length > MAX_LINE) socket.destroy(new Error('oversized message on the helper channel'));
  });
}

export function serializeError(error: AtlasError): SerializedError {
  return error.toJSON();
}

export function deserializeError(error: SerializedError): AtlasError {
  return new AtlasError(error.code, error.message, error.details ?? {});
}
