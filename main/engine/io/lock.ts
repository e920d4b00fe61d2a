/**
 * One writer at a time in a folder: a lock file naming the host and the process that holds it. A lock whose
 * process is gone (a crash, or another machine: a disk is plugged into one machine at a time) is taken over.
 */
import { promises as fsp } from 'node:fs';
import { hostname } from 'node:os';
import { AtlasError, toAtlasError } from '../errors';

interface Holder {
  host?: string;
  pid?: number;
}

/**
 * Creates `path` (O_EXCL) and returns its release. When a live process on this host holds it, throws
 * ALREADY_EXISTS with `busy(pid)` as the sentence.
 */
export async function takeLockFile(
  path: string,
  busy: (pid: number) => string,
): Promise<() => Promise<void>> {
  const mine = JSON.stringify({ host: hostname(), pid: process.pid, since: new Date().toISOString() });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await fsp.writeFile(path, mine, { flag: 'wx' });
      return async () => {
        await fsp.rm(path, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST')
        throw toAtlasError(error, `Cannot write ${path}`);
    }
    const held = await fsp
      .readFile(path, 'utf8')
      .then((text) => JSON.parse(text) as Holder)
      .catch((): Holder => ({}));
    if (held.host === hostname() && typeof held.pid === 'number' && alive(held.pid)) {
      throw new AtlasError('ALREADY_EXISTS', busy(held.pid), { lock: path });
    }
    await fsp.rm(path, { force: true });
  }
  throw new AtlasError('INTERNAL', `Cannot take the lock ${path}.`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
