/**
 * A verified card made ready: root grown to fill it (resize2fs through `access`, or Armbian's resize at first
 * boot), then for a deploy its identity re-armed (deploy/identity.ts), on the card's own descriptor, without
 * mounting. Each card on its own; one that fails here is dropped like any other. Re-arms take turns, at most
 * EXT4_WARM_WORKERS at once: each holds an ext4 worker, and sixteen cards must not start sixteen.
 */
import { rearmIdentity } from '../deploy/identity';
import { EXT4_WARM_WORKERS } from '../../fs/ext4-inject';
import { ensureFirstBootResize } from '../../library/first-boot-resize';
import { ioUnit } from '../../io/direct';
import type { CardAccess } from '../../drives/index';
import type { JobControl } from '../../progress';
import type { PartitionEntry } from '../../partition/types';
import { failCard, type RestoreCard, type RestoreIntent } from './cards';
import { lastPartition } from './plan';

export interface FinishPlan {
  intent: RestoreIntent;
  grow: boolean;
  /** the last partition holds ext2/3/4 (the root to grow and, for a deploy, to re-arm) */
  lastIsExt: boolean;
  access: CardAccess;
}

/** Runs at most `size` tasks at once; the others wait their turn, in order. */
class Slots {
  private busy = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly size: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.busy >= this.size) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.busy += 1;
    try {
      return await task();
    } finally {
      // the slot passes straight to the next waiter, so busy counts it still
      const next = this.waiting.shift();
      if (next) next();
      else this.busy -= 1;
    }
  }
}

/** shared by every deploy in this process: the workers are the process's */
const rearmSlots = new Slots(EXT4_WARM_WORKERS);

export async function finishCard(card: RestoreCard, plan: FinishPlan, control: JobControl): Promise<void> {
  const table = card.table!;
  const root: PartitionEntry = lastPartition(table);
  const rootOffset = root.start * table.sectorSize;
  const dev = card.dev!;
  const unit = ioUnit(dev) > 1 ? { directUnit: ioUnit(dev) } : {};
  card.growMessage = plan.grow
    ? 'The last partition holds no ext4 filesystem; nothing to grow.'
    : 'Root was not grown, as asked.';
  if (plan.grow && plan.lastIsExt) {
    try {
      await growRoot(card, plan.access, rootOffset, root.size * table.sectorSize, unit.directUnit, control);
    } catch (error) {
      failCard(card, error, 'Growing root on');
      return;
    }
  }
  if (plan.intent !== 'deploy') return;
  try {
    const changes = await rearmSlots.run(() =>
      rearmIdentity(card.spec.device, rootOffset, {
        hostname: card.spec.hostname!,
        fd: dev.handle.fd,
        ...unit,
        signal: control.signal,
      }),
    );
    card.identityChanges = changes.map((c) => `${c.path}: ${c.change}`);
  } catch (error) {
    failCard(card, error, 'Re-arming');
  }
}

async function growRoot(
  card: RestoreCard,
  access: CardAccess,
  rootOffset: number,
  rootSize: number,
  unit: number | undefined,
  control: JobControl,
): Promise<void> {
  const device = card.spec.device;
  if (await access.growExt4(device, rootOffset, rootSize, control)) {
    card.grow = 'resized';
    card.growMessage = 'Root was grown to fill the card (resize2fs).';
  } else if (await ensureFirstBootResize(card.dev!.handle.fd, rootOffset, device, unit)) {
    card.grow = 'at-first-boot';
    card.growMessage =
      'The root partition fills the card; resize2fs is not available here, so Armbian grows the filesystem at first boot (armbian-resize-filesystem is enabled).';
  } else {
    card.growMessage =
      'The root partition fills the card, but its filesystem keeps its old size: resize2fs is not available here and the image has no armbian-resize-filesystem. Run resize2fs on Linux.';
  }
}
