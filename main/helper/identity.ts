/**
 * Who the person is, for the root broker: the owner of the private folder the app made for the channel, as
 * the OS reports it, never a uid someone sent. The folder must be a real 0700 folder, the socket the one in
 * it, the token a 0600 regular file in it (read without following a symlink), all owned by that person; and
 * the uid pkexec or sudo report, when they do, must be the same person.
 */
import { constants, promises as fsp } from 'node:fs';
import { dirname, join } from 'node:path';
import { AtlasError } from '../engine/errors';

export const SOCKET_NAME = 'helper.sock';
export const TOKEN_NAME = 'token';

export interface Channel {
  uid: number;
  gid: number;
  token: string;
  socketPath: string;
}

const refuse = (why: string): never => {
  throw new AtlasError('PERMISSION_DENIED', `The helper refuses this channel: ${why}.`);
};

export async function checkChannel(
  socketPath: string,
  tokenPath: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Channel> {
  const folder = dirname(tokenPath);
  if (tokenPath !== join(folder, TOKEN_NAME)) refuse(`the token file is not named ${TOKEN_NAME}`);
  if (socketPath !== join(folder, SOCKET_NAME)) refuse('the socket is not in the token folder');
  const dir = await fsp.lstat(folder).catch(() => refuse(`${folder} is missing`));
  if (!dir.isDirectory()) refuse(`${folder} is not a folder`);
  if ((dir.mode & 0o777) !== 0o700) refuse(`${folder} is not private (0700)`);
  const { uid, gid } = dir;
  const socket = await fsp.lstat(socketPath).catch(() => refuse(`${socketPath} is missing`));
  if (!socket.isSocket()) refuse(`${socketPath} is not a socket`);
  if (socket.uid !== uid) refuse('the socket and its folder belong to different users');
  const token = await readPrivateFile(tokenPath, uid);
  for (const name of ['PKEXEC_UID', 'SUDO_UID'] as const) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    // the person pkexec or sudo authenticated must own the channel: root's own folder is refused for anyone else
    if (String(uid) !== value) refuse(`${name} is ${value} but the channel belongs to uid ${uid}`);
  }
  return { uid, gid, token, socketPath };
}

async function readPrivateFile(path: string, uid: number): Promise<string> {
  const handle = await fsp
    .open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
    .catch(() => refuse(`${path} cannot be opened (missing, or a symlink)`));
  try {
    const st = await handle.stat();
    if (!st.isFile()) refuse(`${path} is not a regular file`);
    if (st.uid !== uid) refuse(`${path} does not belong to the channel's owner`);
    if ((st.mode & 0o777) !== 0o600) refuse(`${path} is not private (0600)`);
    if (st.size > 4096) refuse(`${path} is too large for a token`);
    const token = (await handle.readFile('utf8')).trim();
    if (token === '') refuse(`${path} is empty`);
    return token;
  } finally {
    await handle.close();
  }
}
