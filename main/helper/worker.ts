/**
 * The job worker: started by the root broker (main.ts) as the person, with the cards root opened inherited as
 * descriptors. It runs the engine job unchanged: it opens the image, creates the clone folder, writes the
 * manifests, all as the person, so whatever it creates is theirs and whatever they cannot read stays unread.
 * The root-only steps (eject, growing root) go back to the broker over the IPC channel, for the cards of this
 * job only.
 */
import { AtlasError } from '../engine/errors';
import { deviceFromFd } from '../engine/io/direct';
import type { CardAccess } from '../engine/drives/index';
import { getHelperJob } from './registry';
import {
  deserializeError,
  replyFor,
  type BrokerMessage,
  type InheritedCard,
  type RootStep,
  type WorkerMessage,
} from './protocol';
import './jobs';

const controller = new AbortController();
const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
let nextId = 1;
let started = false;

function post(message: WorkerMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.connected) return resolve();
    process.send!(message, undefined, {}, () => resolve());
  });
}

function rootStep(step: RootStep): Promise<unknown> {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    void post({ type: 'root', id, ...step });
  });
}

/** The cards as the job sees them: each may be opened once, in the way root opened it. */
function inheritedAccess(cards: readonly InheritedCard[]): CardAccess {
  const used = new Set<string>();
  return {
    async open(path, how) {
      const card = cards.find((c) => c.path === path);
      if (!card || used.has(path) || (how.write && !card.write)) {
        throw new AtlasError('PERMISSION_DENIED', `${path} was not opened for this job.`, { device: path });
      }
      used.add(path);
      return deviceFromFd(card.fd, card);
    },
    eject: async (path) => (await rootStep({ step: 'eject', path })) === true,
    growExt4: async (path, offset, size) => (await rootStep({ step: 'grow', path, offset, size })) === true,
  };
}

async function run(message: Extract<BrokerMessage, { type: 'run' }>): Promise<void> {
  const reply = await replyFor(() => {
    const job = getHelperJob(message.job);
    const options = job.check(message.options);
    return job.run(
      options,
      inheritedAccess(message.cards),
      {
        signal: controller.signal,
        onProgress: (progress) => void post({ type: 'progress', progress }),
      },
      message.cards,
    );
  }, controller.signal);
  await post(reply);
  process.exit(0);
}

process.on('message', (message: BrokerMessage) => {
  if (message.type === 'run' && !started) {
    started = true;
    void run(message);
  } else if (message.type === 'cancel') {
    controller.abort();
  } else if (message.type === 'root-done') {
    const waiting = pending.get(message.id);
    pending.delete(message.id);
    if (message.error) waiting?.reject(deserializeError(message.error));
    else waiting?.resolve(message.value);
  }
});

// the broker is gone: stop, and leave shortly even if the job does not notice
process.on('disconnect', () => {
  controller.abort();
  setTimeout(() => process.exit(1), 10_000).unref();
});
