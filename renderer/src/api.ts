/**
 * The renderer's only door to main: `window.atlas` (the contract's AtlasApi), unwrapped so callers get the value
 * or an ApiError carrying the engine's code and sentence.
 */
import type {
  AtlasApi,
  AtlasErrorCode,
  ErrorDTO,
  EventChannel,
  EventOf,
  RequestChannel,
  RequestOf,
  ResponseOf,
} from '../../main/contract';

declare global {
  interface Window {
    atlas: AtlasApi;
  }
}

export class ApiError extends Error implements ErrorDTO {
  constructor(
    readonly code: AtlasErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export function toErrorDTO(error: unknown): ErrorDTO {
  if (error instanceof ApiError) return { code: error.code, message: error.message };
  return { code: 'INTERNAL', message: error instanceof Error ? error.message : String(error) };
}

export async function call<C extends RequestChannel>(
  channel: C,
  request: RequestOf<C>,
): Promise<ResponseOf<C>> {
  const reply = await window.atlas.invoke(channel, request);
  if (!reply.ok) throw new ApiError(reply.error.code, reply.error.message);
  return reply.value;
}

export function subscribe<E extends EventChannel>(
  event: E,
  listener: (payload: EventOf<E>) => void,
): () => void {
  return window.atlas.on(event, listener);
}

export function pathForFile(file: File): string {
  return window.atlas.pathForFile(file);
}
