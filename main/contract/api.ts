/**
 * What the renderer sees as `window.atlas`. The preload builds it over Electron IPC; the browser tests build the
 * same interface over a WebSocket. Nothing else crosses: no ipcRenderer, no event objects, no Node.
 */
import type { EventChannel, EventOf, RequestChannel, RequestOf, ResponseOf } from './channels';
import type { Reply } from './dto';

/** A File the user dropped; only the preload can turn it into a path (webUtils.getPathForFile). */
export interface DroppedFile {
  readonly name: string;
}

export interface AtlasApi {
  /** Calls main; resolves to the value or to the error sentence, never rejects for an AtlasError. */
  invoke<C extends RequestChannel>(channel: C, request: RequestOf<C>): Promise<Reply<ResponseOf<C>>>;
  /** Subscribes to an event; returns the unsubscribe function. The listener gets the payload only. */
  on<E extends EventChannel>(event: E, listener: (payload: EventOf<E>) => void): () => void;
  /** The file system path of a dropped file, or '' when there is none (a file from another web page). */
  pathForFile(file: DroppedFile): string;
}
