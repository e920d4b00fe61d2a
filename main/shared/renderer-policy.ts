/**
 * How the built renderer is served: by the app's app:// protocol (main/electron/protocol.ts) and by the test
 * server that runs it in Chromium (test/e2e/serve.ts). One policy, so the tests exercise what the app ships.
 */

/**
 * Scripts and styles from the app only; no inline script, no remote anything, no frames, no forms. The test
 * server's page reaches its handlers over a WebSocket to its own origin, hence `connectSelf`.
 */
export function contentSecurityPolicy(options: { connectSelf?: boolean } = {}): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    `connect-src ${options.connectSelf ? "'self'" : "'none'"}`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
};

/** The Content-Type for a file of the renderer, by its extension ('.js'). */
export function contentTypeOf(extension: string): string {
  return CONTENT_TYPES[extension] ?? 'application/octet-stream';
}
