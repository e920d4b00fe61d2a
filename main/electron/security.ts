/**
 * The app-wide guards of Electron's security checklist: no navigation, no new windows, no webviews, no
 * permissions, no requests leaving the app's own origin.
 */
import { app, session, type WebContents } from 'electron';
import { APP_ORIGIN } from './protocol';

export function hardenSessions(): void {
  const ses = session.defaultSession;
  // Electron grants every permission unless told otherwise: grant none (camera, notifications, USB ...).
  ses.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
  ses.setPermissionCheckHandler(() => false);
  ses.setDevicePermissionHandler(() => false);
  // The renderer needs nothing from the network: only app:// and the dev tools' own schemes get through.
  ses.webRequest.onBeforeRequest((details, callback) => {
    const allowed = details.url.startsWith(`${APP_ORIGIN}/`) || details.url.startsWith('devtools://');
    callback({ cancel: !allowed });
  });
}

export function guardWebContents(): void {
  app.on('web-contents-created', (_event, contents: WebContents) => {
    contents.on('will-navigate', (event) => event.preventDefault());
    contents.on('will-redirect', (event) => event.preventDefault());
    contents.on('will-attach-webview', (event) => event.preventDefault());
    contents.setWindowOpenHandler(() => ({ action: 'deny' }));
  });
}

export { isTrustedSender } from '../app/sender';
