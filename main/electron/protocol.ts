/**
 * The renderer is served from app://atlas/ instead of file://: a standard, secure origin that can read nothing but
 * the built renderer folder, with the Content-Security-Policy sent as a header on every response.
 */
import { protocol } from 'electron';
import { promises as fsp } from 'node:fs';
import { extname, join, normalize, sep } from 'node:path';
import { contentSecurityPolicy, contentTypeOf } from '../shared/renderer-policy';

export const APP_SCHEME = 'app';
export const APP_HOST = 'atlas';
// one definition of the origin: the sender check (main/app/sender.ts) compares against it
export { APP_ORIGIN } from '../app/sender';

const CSP = contentSecurityPolicy();

/** Must run before the app is ready. */
export function registerSchemePrivileges(): void {
  protocol.registerSchemesAsPrivileged([
    {
      scheme: APP_SCHEME,
      privileges: { standard: true, secure: true, supportFetchAPI: false, corsEnabled: false },
    },
  ]);
}

export function serveRenderer(rendererDir: string): void {
  const root = normalize(rendererDir + sep);
  protocol.handle(APP_SCHEME, async (request) => {
    const url = new URL(request.url);
    if (url.host !== APP_HOST || request.method !== 'GET') return new Response('Not found', { status: 404 });
    const relativePath = decodeURIComponent(url.pathname === '/' ? '/index.html' : url.pathname);
    const file = normalize(join(root, relativePath));
    if (!file.startsWith(root)) return new Response('Not found', { status: 404 });
    try {
      const body = await fsp.readFile(file);
      return new Response(body, {
        headers: {
          'Content-Type': contentTypeOf(extname(file)),
          'Content-Security-Policy': CSP,
          'X-Content-Type-Options': 'nosniff',
        },
      });
    } catch {
      return new Response('Not found', { status: 404 });
    }
  });
}
