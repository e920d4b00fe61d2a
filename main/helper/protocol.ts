/**
 * The helper channel: newline-delimited JSON over a Unix socket the app created in a 0700 folder. The broker
 * speaks first with the one-time token; nothing else is accepted before that. Both sides close the channel on
 * any line that is not one of the messages below, exactly (not JSON, not an object, an unknown type, a field of
 * the wrong type): the other side is then either broken or not who it claims to be.
 *
 * Between the broker (root) and the job worker (the person) the same messages travel over Node's IPC channel,
 * plus the root-only steps the worker asks for (WorkerMessage / BrokerMessage).
 */
import type { Socket } from 'node:net';
import { AtlasError, toAtlasError, type AtlasErrorCode } from '../engine/errors';
import type { Progress } from '../engine/progress';
import { CARD_STATE_LABELS, STAGE_LABELS } from '../shared/stages';

export interface SerializedError {
  code: AtlasErrorCode;
  message: string;
  details: Record<string, unknown>;
}

/** What the job worker runs under: the person's own PATH, HOME and locale (they never reach a root process). */
export interface UserEnv {
  PATH?: string;
  HOME?: string;
  LANG?: string;
  LC_ALL?: string;
}

/** broker → app */
export type HelperMessage =
  | { type: 'hello'; token: string; pid: number }
  | { type: 'progress'; progress: Progress }
  | { type: 'result'; result: unknown }
  | { type: 'error'; error: SerializedError };

/** app → broker */
export type AppMessage =
  | { type: 'run'; job: string; options: unknown; env: UserEnv }
  | { type: 'cancel' }
  | { type: 'refused'; message: string };

/** A card the broker opened and the worker inherited, at descriptor `fd` of the worker. */
export interface InheritedCard {
  path: string;
  fd: number;
  write: boolean;
  direct: boolean;
  size: number;
  sectorSize: number;
  isBlockDevice: boolean;
  /** what the drive list says of it (recorded in a clone's manifest) */
  description: string;
  serial?: string;
}

/** The root-only steps a worker may ask for, on a card the broker opened for this job. */
export type RootStep =
  { step: 'eject'; path: string } | { step: 'grow'; path: string; offset: number; size: number };

/** worker → broker */
export type WorkerMessage =
  | { type: 'progress'; progress: Progress }
  | { type: 'result'; result: unknown }
  | { type: 'error'; error: SerializedError }
  | ({ type: 'root'; id: number } & RootStep);

/** broker → worker */
export type BrokerMessage =
  | { type: 'run'; job: string; options: unknown; cards: InheritedCard[] }
  | { type: 'cancel' }
  | { type: 'root-done'; id: number; value?: unknown; error?: SerializedError };

const USER_ENV_KEYS = ['PATH', 'HOME', 'LANG', 'LC_ALL'] as const;

type Shape = Record<string, 'string' | 'number' | 'boolean' | 'object' | 'any' | 'string?' | 'any?'>;

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function fits(value: Record<string, unknown>, shape: Shape): boolean {
  for (const [key, kind] of Object.entries(shape)) {
    const v = value[key];
    if (kind === 'any') continue;
    if (kind === 'any?') continue;
    if (kind === 'string?') {
      if (v !== undefined && typeof v !== 'string') return false;
    } else if (kind === 'object') {
      if (!isObject(v)) return false;
    } else if (typeof v !== kind || (kind === 'number' && !Number.isFinite(v))) return false;
  }
  return true;
}

const PROGRESS: Shape = { bytesDone: 'number', rate: 'number' };
const ERROR: Shape = { code: 'string', message: 'string', details: 'object' };

/** A progress report: its stage one the app knows (the contract's JobStage, labelled in shared/stages). */
function isProgress(v: unknown): boolean {
  return (
    isObject(v) &&
    fits(v, PROGRESS) &&
    typeof v.stage === 'string' &&
    Object.hasOwn(STAGE_LABELS, v.stage) &&
    (v.cards === undefined || (Array.isArray(v.cards) && v.cards.every(isCardProgress)))
  );
}

function isCardProgress(v: unknown): boolean {
  return (
    isObject(v) &&
    fits(v, { device: 'string', bytesDone: 'number' }) &&
    typeof v.state === 'string' &&
    Object.hasOwn(CARD_STATE_LABELS, v.state)
  );
}

function isError(v: unknown): boolean {
  return isObject(v) && fits(v, ERROR);
}

/** The message, when `raw` is exactly a broker → app message; null otherwise (close the channel). */
export function parseHelperMessage(raw: unknown): HelperMessage | null {
  if (!isObject(raw)) return null;
  switch (raw.type) {
    case 'hello':
      return fits(raw, { token: 'string', pid: 'number' }) ? (raw as HelperMessage) : null;
    case 'progress':
      return isProgress(raw.progress) ? (raw as HelperMessage) : null;
    case 'result':
      return 'result' in raw ? (raw as HelperMessage) : null;
    case 'error':
      return isError(raw.error) ? (raw as HelperMessage) : null;
    default:
      return null;
  }
}

/** The message, when `raw` is exactly an app → broker message; null otherwise (close the channel). */
export function parseAppMessage(raw: unknown): AppMessage | null {
  if (!isObject(raw)) return null;
  switch (raw.type) {
    case 'run': {
      if (typeof raw.job !== 'string' || !isObject(raw.options) || !isObject(raw.env)) return null;
      const env: UserEnv = {};
      for (const key of USER_ENV_KEYS) {
        const v = raw.env[key];
        if (v === undefined) continue;
        if (typeof v !== 'string' || v.includes('\0')) return null;
        env[key] = v;
      }
      return { type: 'run', job: raw.job, options: raw.options, env };
    }
    case 'cancel':
      return { type: 'cancel' };
    case 'refused':
      return typeof raw.message === 'string' ? { type: 'refused', message: raw.message } : null;
    default:
      return null;
  }
}

/** The message, when `raw` is exactly a worker → broker message; null otherwise (stop the worker). */
export function parseWorkerMessage(raw: unknown): WorkerMessage | null {
  if (!isObject(raw)) return null;
  switch (raw.type) {
    case 'progress':
    case 'result':
    case 'error':
      return parseHelperMessage(raw) as WorkerMessage | null;
    case 'root':
      if (!fits(raw, { id: 'number', path: 'string' })) return null;
      if (raw.step === 'eject') return raw as WorkerMessage;
      if (raw.step === 'grow' && fits(raw, { offset: 'number', size: 'number' })) return raw as WorkerMessage;
      return null;
    default:
      return null;
  }
}

/** The user env to pass on: only the keys a worker uses, from this process (the app or the CLI). */
export function userEnvOf(env: NodeJS.ProcessEnv): UserEnv {
  const out: UserEnv = {};
  for (const key of USER_ENV_KEYS) if (typeof env[key] === 'string') out[key] = env[key];
  return out;
}

/** Lines longer than this are a protocol violation (nothing legitimate comes close). */
const MAX_LINE = 1024 * 1024;

export function send(socket: Socket, message: HelperMessage | AppMessage): void {
  if (!socket.destroyed && socket.writable) socket.write(`${JSON.stringify(message)}\n`);
}

/**
 * Calls `onMessage` with each line `parse` accepts; a line that is not JSON, that `parse` rejects (null), or an
 * oversized one destroys the socket, and no later line is delivered.
 */
export function onLines<M>(
  socket: Socket,
  parse: (raw: unknown) => M | null,
  onMessage: (message: M) => void,
): void {
  let pending = '';
  socket.setEncoding('utf8');
  socket.on('data', (data: string) => {
    if (socket.destroyed) return;
    pending += data;
    let newline: number;
    while ((newline = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      if (line.trim() === '') continue;
      let message: M | null;
      try {
        message = parse(JSON.parse(line));
      } catch {
        message = null;
      }
      if (message === null) {
        socket.destroy(new Error('malformed message on the helper channel'));
        return;
      }
      onMessage(message);
      if (socket.destroyed) return;
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

/**
 * How a job ended, as the one reply both the worker and the broker send: its result, or its error (CANCELLED
 * when the job was cancelled, whatever the job threw on the way out).
 */
export async function replyFor(
  job: () => Promise<unknown>,
  signal: AbortSignal,
): Promise<{ type: 'result'; result: unknown } | { type: 'error'; error: SerializedError }> {
  try {
    return { type: 'result', result: await job() };
  } catch (error) {
    const e = signal.aborted
      ? new AtlasError('CANCELLED', 'The operation was cancelled.')
      : toAtlasError(error);
    return { type: 'error', error: serializeError(e) };
  }
}
