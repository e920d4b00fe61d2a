/**
 * Warm ext4 workers. Starting one costs ~110 ms (loading libext2fs, instantiating its WebAssembly: ~150 ms of
 * CPU), more than a card's re-arm itself; so a worker whose session closed cleanly waits here for the next one,
 * and a deploy starts its workers early (prestartExt4Workers) to load while the cards are written.
 *
 * Idle workers never keep the process alive (unref) and end after IDLE_MS, unless a prestart still holds them.
 */
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';

/** The most workers kept warm, and the most ext4 sessions a deploy runs at once: one per core of a small box. */
export const EXT4_WARM_WORKERS = 2;

/** how long an idle worker waits for a session before it ends */
const IDLE_MS = 5_000;

const WORKER = join(__dirname, 'worker.js');

interface Idle {
  worker: Worker;
  timer: NodeJS.Timeout | null;
}

const idle: Idle[] = [];
/** prestarts not yet released: while any is held, idle workers wait however long the write takes */
let holds = 0;
let started = 0;
/** a worker that ended is never handed out again, whenever it ended */
const exited = new WeakSet<Worker>();

/** For tests: workers idle now, and workers started by this process so far. */
export function ext4PoolState(): { idle: number; started: number } {
  return { idle: idle.length, started };
}

function startWorker(): Worker {
  const worker = new Worker(WORKER);
  started += 1;
  // a session listens for its own worker's errors; between sessions an error only ends the worker
  worker.on('error', () => undefined);
  worker.on('exit', () => {
    exited.add(worker);
    const at = idle.findIndex((i) => i.worker === worker);
    if (at >= 0) {
      const [gone] = idle.splice(at, 1);
      if (gone!.timer) clearTimeout(gone!.timer);
    }
  });
  return worker;
}

function armTimer(entry: Idle): void {
  if (holds > 0 || entry.timer) return;
  entry.timer = setTimeout(() => {
    const at = idle.indexOf(entry);
    if (at >= 0) idle.splice(at, 1);
    void entry.worker.terminate();
  }, IDLE_MS);
  entry.timer.unref();
}

function putIdle(worker: Worker): void {
  worker.unref();
  const entry: Idle = { worker, timer: null };
  idle.push(entry);
  armTimer(entry);
}

/** A worker for a new session: a warm one when there is one, else a fresh one (kept referenced while in use). */
export function takeWorker(): Worker {
  const entry = idle.pop();
  if (!entry) return startWorker();
  if (entry.timer) clearTimeout(entry.timer);
  entry.worker.ref();
  return entry.worker;
}

/** After a clean close only: the worker serves the next session, or ends when enough are warm already. */
export function returnWorker(worker: Worker): void {
  if (exited.has(worker)) return;
  if (idle.length >= EXT4_WARM_WORKERS) void worker.terminate();
  else putIdle(worker);
}

/**
 * Starts workers until `n` (at most EXT4_WARM_WORKERS) are idle, and keeps the idle ones from timing out until
 * release() is called (always call it: in a finally).
 */
export function prestartExt4Workers(n: number): { release(): void } {
  holds += 1;
  for (const entry of idle) {
    if (entry.timer) clearTimeout(entry.timer);
    entry.timer = null;
  }
  const want = Math.min(n, EXT4_WARM_WORKERS);
  while (idle.length < want) putIdle(startWorker());
  let released = false;
  return {
    release() {
      if (released) return;
      released = true;
      holds -= 1;
      for (const entry of idle) armTimer(entry);
    },
  };
}
