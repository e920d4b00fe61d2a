/**
 * The external decompressors (xz, pigz, zstd): found (an app started from the macOS Finder gets a minimal PATH, so
 * the usual Homebrew folders are searched as well unless the caller gives its own search path), run as a stream
 * or straight into whole blocks, and their failures told in their own words.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, createReadStream, statSync } from 'node:fs';
import { basename, delimiter, join } from 'node:path';
import { throwIfCancelled, toAtlasError, type AtlasError } from '../errors';
import type { Block } from '../io/direct';
import { openFifoBlocks } from '../io/fifo-blocks';
import type { SourceFormat, SourceReadable } from './source';
import { READ_CHUNK, corruptArchive, countCompressed, type Base, type SourceStream } from './source-stream';

const EXTRA_DIRS = ['/opt/homebrew/bin', '/usr/local/bin', '/usr/bin', '/bin'];
const cache = new Map<string, string | null>();

/** Absolute path of an executable `name`, or null. `searchPath` is PATH-like; default PATH + Homebrew folders. */
export function findTool(name: string, searchPath?: string): string | null {
  const dirs =
    searchPath === undefined
      ? [...(process.env.PATH ?? '').split(delimiter), ...EXTRA_DIRS]
      : searchPath.split(delimiter);
  const key = `${name}\0${dirs.join(delimiter)}`;
  const known = cache.get(key);
  if (known !== undefined) return known;
  let found: string | null = null;
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) {
        found = candidate;
        break;
      }
    } catch {
      // not here
    }
  }
  cache.set(key, found);
  return found;
}

/**
 * file → child stdin, child stdout → out. The child's stderr becomes the error sentence. With `readsFile` the
 * tool opens the file itself: this process then neither reads it nor writes it down a pipe, CPU that the
 * decoder wants on a 2-core machine (measured with xz -T0 on 1 GiB: 0.5–0.9 s sooner, 0.3–0.5 s less CPU), but
 * the compressed bytes read are known only at the end, so it is for formats whose size is known.
 */
export function feedChild(
  out: SourceStream,
  command: string,
  args: string[],
  base: Base,
  format: SourceFormat,
  readsFile = false,
): void {
  const child = spawn(command, readsFile ? [...args, '--', base.path] : args, {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const file = readsFile ? null : createReadStream(base.path, { highWaterMark: READ_CHUNK });
  if (file) countCompressed(out, file);
  let stderr = '';
  let stdoutEnded = false;
  let exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  let settled = false;

  out.cleanups.push(() => {
    settled = true;
    file?.destroy();
    child.stdout.destroy();
    if (exit === null) child.kill('SIGKILL');
  });
  const settle = (): void => {
    if (settled || !stdoutEnded || exit === null) return;
    settled = true;
    if (exit.code === 0) {
      // the tool read the file to its end (xz and zstd refuse trailing garbage)
      if (readsFile) out.compressedBytesRead = base.fileSize;
      out.end();
      return;
    }
    out.destroy(toolFailure(command, stderr, exit, base, format, out));
  };

  child.on('error', (error) => {
    settled = true;
    out.destroy(toAtlasError(error, `Cannot run ${command}`));
  });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (text: string) => {
    if (stderr.length < 4096) stderr += text;
  });
  child.on('close', (code, signal) => {
    exit = { code, signal };
    settle();
  });
  // The child may exit early on corrupt input; the broken pipe is expected, its exit status tells why.
  child.stdin.on('error', () => undefined);
  if (file) {
    file.on('error', (error) => out.destroy(toAtlasError(error, `Cannot read ${base.path}`)));
    file.pipe(child.stdin);
  } else child.stdin.end();
  child.stdout.on('end', () => {
    stdoutEnded = true;
    settle();
  });
  child.stdout.pipe(out, { end: false });
}

/** A decoder tool that exited unsuccessfully, in its own words. */
function toolFailure(
  command: string,
  stderr: string,
  exit: { code: number | null; signal: NodeJS.Signals | null },
  base: Base,
  format: SourceFormat,
  out: Pick<SourceReadable, 'bytesProduced' | 'compressedBytesRead'>,
): AtlasError {
  // a tool that read the file itself names it in every line: the message names it once already
  const sentence = stderr
    .split('\n')
    .map((line) => cleanToolMessage(line.split(`${base.path}: `).join('')))
    .filter(Boolean)
    .join('; ');
  const reason = `${basename(command)}: ${sentence || `exited with ${exit.code ?? exit.signal}`}`;
  return corruptArchive(base, format, out, reason);
}

/**
 * A decoder tool that reads the file itself, its output taken in whole blocks through a FIFO by a worker
 * (io/fifo-blocks: a Node stream of xz's 8 KiB writes costs a core's worth of CPU the decoder wants).
 */
export async function* toolBlocks(
  command: string,
  args: string[],
  base: Base,
  format: SourceFormat,
  pool: readonly Buffer[],
  options: { ahead?: number; signal?: AbortSignal | undefined | undefined },
  fallback: () => AsyncGenerator<Block>,
): AsyncGenerator<Block> {
  const { signal } = options;
  throwIfCancelled(signal);
  const fifo = await openFifoBlocks().catch(() => null);
  if (!fifo) {
    // no FIFO here (no mkfifo, a read-only temporary folder): the stream still works, only slower
    yield* fallback();
    return;
  }
  // iterated by hand so that stopping early kills the tool before waiting for the blocks being filled
  const blocks = fifo.blocks(pool, options);
  let child: ChildProcess | null = null;
  let exited: Promise<{ code: number | null; signal: NodeJS.Signals | null } | Error> | null = null;
  const onAbort = (): void => {
    child?.kill('SIGKILL'); // the worker then sees the end of the FIFO and the blocks stop
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const running = spawn(command, [...args, '--', base.path], { stdio: ['ignore', fifo.writer.fd, 'pipe'] });
    child = running;
    let stderr = '';
    const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null } | Error>((resolve) => {
      running.once('error', resolve);
      running.once('close', (code, sig) => resolve({ code, signal: sig }));
    });
    exited = exit;
    running.stderr!.setEncoding('utf8');
    running.stderr!.on('data', (text: string) => {
      if (stderr.length < 4096) stderr += text;
    });
    await fifo.writer.close(); // the child has its own copy; its exit then ends the FIFO
    const produced = { bytesProduced: 0, compressedBytesRead: 0 };
    const failure = async (): Promise<AtlasError | null> => {
      const status = await exit;
      throwIfCancelled(signal);
      if (status instanceof Error) return toAtlasError(status, `Cannot run ${command}`);
      return status.code === 0 ? null : toolFailure(command, stderr, status, base, format, produced);
    };
    for (;;) {
      const next = await blocks.next();
      if (next.done) break;
      const block = next.value;
      produced.bytesProduced += block.length;
      // a short block is the last: the tool has closed its output, and its exit says whether it finished
      if (block.length < block.buffer.length) {
        const error = await failure();
        if (error) throw error;
      }
      yield block;
    }
    const error = await failure();
    if (error) throw error;
  } finally {
    signal?.removeEventListener('abort', onAbort);
    // the tool is gone (not just told to go) before the blocks end, as a cancelled flash promises
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
    await blocks.return(undefined);
    await fifo.close();
  }
}

/** Drops the tool's name and its "(stdin)" / "skipping: <stdin>" noise from a line of stderr. */
export function cleanToolMessage(line: string): string {
  return line
    .trim()
    .replace(/^[\w./-]+: /, '')
    .replace(/^skipping: /, '')
    .replace(/^(\(stdin\)|<stdin>|\/\*stdin\*\\?)\s*: /, '')
    .replace(/^Decoding error \(\d+\) : /, '')
    .trim();
}
