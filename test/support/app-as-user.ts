/**
 * Runs one device job through the app's own handlers and production wiring (createHandlers + productionDeps),
 * as the app's main process would: the elevated tests start this script as an unprivileged user (elevated.ts),
 * so the helper is started through sudo-prompt → pkexec exactly as in the app. It picks the card(s) from the
 * app's drive list, starts the job and prints `OUTCOME <json>` when the job finishes.
 *
 * With `electron` set it stands in for the packaged app: process.versions.electron is set and process.execPath
 * points at a stand-in binary that only behaves as Node under ELECTRON_RUN_AS_NODE=1, as Electron's does (the
 * wiring reads both when it starts the helper, not when it is loaded).
 */
import { createHandlers } from '../../main/app/handlers';
import { productionDeps } from '../../main/app/production';
import type { DriveSnapshot, EventChannel, EventOf, JobProgress } from '../../main/contract';

export type AppJob =
  | { job: 'flash'; image: string; cards: string[]; verify?: boolean; usedBlocksOnly?: boolean }
  | { job: 'clone'; card: string; tag: string; outDir: string }
  | {
      job: 'restore';
      folder: string;
      cards: string[];
      intent?: 'exact' | 'deploy';
      hostnamePattern?: string;
      grow?: boolean;
    };

export interface AppAsUserInput {
  configDir: string;
  homeDir: string;
  /** a stand-in for the Electron binary (see makeElectronStandIn in elevated-fixtures) */
  electron?: string;
  run: AppJob;
}

export interface AppAsUserOutput {
  uid: number;
  started: boolean;
  outcome?: EventOf<'job:finished'>['outcome'];
  /** the reply when the request itself was refused */
  refused?: unknown;
  stages: string[];
}

async function main(): Promise<void> {
  const input = JSON.parse(process.argv[2] ?? '{}') as AppAsUserInput;
  if (input.electron) {
    (process.versions as Record<string, string>).electron = '45.5.0';
    process.execPath = input.electron;
  }
  const stages: string[] = [];
  let finished: ((outcome: EventOf<'job:finished'>['outcome']) => void) | null = null;
  const done = new Promise<EventOf<'job:finished'>['outcome']>((resolve) => (finished = resolve));
  const app = createHandlers(
    productionDeps({
      version: '0.0.0-test',
      platform: process.platform,
      configDir: input.configDir,
      homeDir: input.homeDir,
      emit: <E extends EventChannel>(event: E, payload: EventOf<E>) => {
        if (event === 'job:progress') {
          const stage = (payload as EventOf<'job:progress'>).progress as JobProgress;
          if (stages.at(-1) !== stage.stage) stages.push(stage.stage);
        }
        if (event === 'job:finished') finished?.((payload as EventOf<'job:finished'>).outcome);
      },
    }),
  );
  const drives = await app.dispatch('drives:list', {});
  if (!drives.ok) throw new Error(`drives:list failed: ${JSON.stringify(drives)}`);
  const list = drives.value as Array<DriveSnapshot>;
  const snapshot = (device: string): DriveSnapshot => {
    const d = list.find((x) => x.device === device);
    if (!d)
      throw new Error(`${device} is not in the app's drive list: ${list.map((x) => x.device).join(' ')}`);
    return { device: d.device, size: d.size, serial: d.serial };
  };
  const r = input.run;
  const reply =
    r.job === 'flash'
      ? await app.dispatch('flash:start', {
          image: r.image,
          targets: r.cards.map(snapshot),
          verify: r.verify ?? true,
          usedBlocksOnly: r.usedBlocksOnly ?? false,
        })
      : r.job === 'clone'
        ? await app.dispatch('clone:start', { source: snapshot(r.card), tag: r.tag, outDir: r.outDir })
        : await app.dispatch('restore:start', {
            folder: r.folder,
            targets: r.cards.map(snapshot),
            intent: r.intent ?? 'exact',
            ...(r.hostnamePattern !== undefined ? { hostnamePattern: r.hostnamePattern } : {}),
            grow: r.grow ?? true,
          });
  const output: AppAsUserOutput = { uid: process.getuid?.() ?? -1, started: reply.ok, stages };
  if (!reply.ok) output.refused = reply;
  else output.outcome = await done;
  process.stdout.write(`OUTCOME ${JSON.stringify(output)}\n`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(
      `app-as-user: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(3);
  },
);
