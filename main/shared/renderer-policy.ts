/**
 * How the built renderer is served: by the app's app:// protocol (main/electron/protocol.ts) and by the test
 * server that runs it in Chromium (test/e2e/serve.ts). One policy, so the tests exercise what the app ships.
 */

/**
 * Scripts and styles from the app only; no inline script, no remote anything, no frames, no forms. The test
 * server's page reaches its handlers over a WebSocket to its own origin, hence `connectSelf`.
 */
export function contentSecurityPolicy(options: { connectSelf?: boolean; meta?: boolean } = {}): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    `connect-src ${options.connectSelf ? "'self'" : "'none'"}`,
    "base-uri 'none'",
    "form-action 'none'",
    // browsers honour this one only from the header (and warn when a meta tag carries it)
    ...(options.meta ? [] : ["frame-ancestors 'none'"]),
  ].join('; ');
}

/** What renderer/index.html carries in its CSP meta tag until the build puts the policy there. */
export const POLICY_PLACEHOLDER = '%CONTENT_SECURITY_POLICY%';

/**
 * The renderer's index.html with `policy` in its CSP meta tag (the build writes the app's, `meta: true`; the test
 * server rewrites it to its own), so the page never carries a second, hand-written policy.
 */
export function withPolicy(html: string, policy: string): string {
  const meta = /(<meta\s+http-equiv="Content-Security-Policy"\s+content=")([^"]*)(")/;
  if (!meta.test(html)) throw new Error('index.html has no Content-Security-Policy meta tag.');
  return html.replace(meta, (_all, head: string, _old: string, tail: string) => `${head}${policy}${tail}`);
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
