/**
 * Which IPC messages main accepts: only from the main frame (no iframes) of one of the app's own windows,
 * showing the app's own origin. Pure, so it is tested without Electron; main/electron/ipc.ts applies it.
 */
export const APP_ORIGIN = 'app://atlas';

export function isTrustedSender(
  frame: { url: string; parent: unknown } | null | undefined,
  contentsId: number,
  trusted: ReadonlySet<number>,
): boolean {
  if (!frame || frame.parent !== null || !trusted.has(contentsId)) return false;
  try {
    // URL.origin is "null" for a non-special scheme such as app:, so compare the parts
    const url = new URL(frame.url);
    return `${url.protocol}//${url.host}` === APP_ORIGIN;
  } catch {
    return false;
  }
}
