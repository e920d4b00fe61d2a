/**
 * Remote build folders, the one rule for every layer: `ssh://[user@]host[:port]/path` names a folder on another
 * machine reached with the system's ssh (the build box). The settings field checks it as the user types, the
 * handlers and the CLI refuse what breaks it, the engine connects with it. Pure (no Node, no DOM).
 *
 * The path follows git's ssh URLs: `/~/atlas-build` is in the remote user's home, `/srv/builds` is absolute, and
 * no path at all means the default build folder, `~/atlas-build`.
 */

export const REMOTE_SCHEME = 'ssh://';
export const DEFAULT_REMOTE_PATH = '~/atlas-build';

export interface RemoteFolder {
  /** the login name, or null: ssh decides (the ~/.ssh/config entry, else the local user) */
  user: string | null;
  /** a host name, an ~/.ssh/config alias or an address */
  host: string;
  /** null: ssh decides (the config entry, else 22) */
  port: number | null;
  /** `~/x` (in the remote user's home) or `/x` */
  path: string;
}

export const REMOTE_FOLDER_RULE =
  'Write a remote build folder as ssh://host/~/atlas-build, with user@ before the host and :port after it when needed.';

/** A host name or alias (letters, digits, '.', '-', '_'; never starting with '-': ssh would take it for an option). */
const HOST = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,252}$/;
const USER = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$/;

export function isRemoteFolderText(text: string): boolean {
  return text.startsWith(REMOTE_SCHEME);
}

/** The folder `text` names, or a sentence saying what is wrong with it. */
export function parseRemoteFolder(text: string): RemoteFolder | { error: string } {
  if (!isRemoteFolderText(text))
    return { error: `It does not start with ${REMOTE_SCHEME}. ${REMOTE_FOLDER_RULE}` };
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(text)) return { error: 'It contains a control character.' };
  const rest = text.slice(REMOTE_SCHEME.length);
  const slash = rest.indexOf('/');
  const authority = slash < 0 ? rest : rest.slice(0, slash);
  const rawPath = slash < 0 ? '' : rest.slice(slash);
  const at = authority.lastIndexOf('@');
  const user = at < 0 ? null : authority.slice(0, at);
  const hostPort = at < 0 ? authority : authority.slice(at + 1);
  const colon = hostPort.lastIndexOf(':');
  const host = colon < 0 ? hostPort : hostPort.slice(0, colon);
  const portText = colon < 0 ? null : hostPort.slice(colon + 1);
  if (user !== null && !USER.test(user)) return { error: `"${user}" is not a user name.` };
  if (!HOST.test(host)) return { error: `"${host}" is not a host name. ${REMOTE_FOLDER_RULE}` };
  let port: number | null = null;
  if (portText !== null) {
    port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
    if (!(port >= 1 && port <= 65535)) return { error: `"${portText}" is not a port number (1 to 65535).` };
  }
  let path: string;
  if (rawPath === '' || rawPath === '/') path = DEFAULT_REMOTE_PATH;
  else if (rawPath === '/~' || rawPath.startsWith('/~/')) path = rawPath.slice(1);
  else path = rawPath;
  path = path.length > 1 ? path.replace(/\/+$/, '') : path;
  if (path.split('/').includes('..')) return { error: 'The folder must not contain "..".' };
  return { user, host, port, path };
}

/** The canonical text of a folder (what settings store and the app shows). */
export function formatRemoteFolder(folder: RemoteFolder): string {
  const user = folder.user ? `${folder.user}@` : '';
  const port = folder.port !== null ? `:${folder.port}` : '';
  const path = folder.path.startsWith('/') ? folder.path : `/${folder.path}`;
  return `${REMOTE_SCHEME}${user}${folder.host}${port}${path}`;
}
