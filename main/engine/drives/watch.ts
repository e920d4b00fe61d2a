/**
 * Drive hot-plug without native hooks: list every second and emit when the set of drives (or anything the
 * UI shows about them) changed, so a card plugged in or out shows within about a second.
 */
import { listDrives, type Drive, type ListOptions } from './list';

export interface DriveWatcher {
  /** the last list seen (empty before the first poll finished) */
  readonly current: Drive[];
  stop(): void;
}

export function watchDrives(
  onChange: (drives: Drive[]) => void,
  options: ListOptions & { intervalMs?: number; onError?: (error: unknown) => void } = {},
): DriveWatcher {
  let current: Drive[] = [];
  let lastKey: string | null = null;
  let stopped = false;
  let timer: NodeJS.Timeout | null = null;
  const poll = async (): Promise<void> => {
    try {
      const drives = await listDrives(options);
      const key = JSON.stringify(drives);
      if (!stopped && key !== lastKey) {
        lastKey = key;
        current = drives;
        onChange(drives);
      }
    } catch (error) {
      options.onError?.(error);
    }
    if (!stopped) timer = setTimeout(() => void poll(), options.intervalMs ?? 1000);
  };
  void poll();
  return {
    get current() {
      return current;
    },
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
