/**
 * Loop devices for integration tests: real block devices backed by image files in a scratch folder.
 * Writes in tests go to these and to image files only, never to a disk of the machine.
 */
import { existsSync } from 'node:fs';
import { run, tryRun } from './sh';

export interface LoopDevice {
  /** /dev/loopN */
  device: string;
  /** /dev/loopNpK for partition K (1-based) */
  partition(k: number): string;
  detach(): void;
}

/**
 * Attaches an image file. `partx -a` adds the partition nodes: this kernel does not parse MBRs on loop devices
 * by itself.
 */
export function attachLoop(imagePath: string, options: { partitions?: boolean } = {}): LoopDevice {
  const device = run('losetup', ['-f', '--show', imagePath]).trim();
  if (!device.startsWith('/dev/loop')) throw new Error(`losetup gave "${device}"`);
  if (options.partitions !== false) refreshPartitions(device);
  return {
    device,
    partition: (k) => `${device}p${k}`,
    detach: () => {
      tryRun('partx', ['-d', device]);
      tryRun('losetup', ['-d', device]);
    },
  };
}

/** Re-reads a loop device's partition table into /dev/loopNpK nodes. */
export function refreshPartitions(device: string): void {
  tryRun('partx', ['-d', device]);
  const r = tryRun('partx', ['-a', device]);
  if (r.status !== 0 && !/no partitions|failed to read partition table/i.test(r.stderr)) {
    throw new Error(`partx -a ${device}: ${r.stderr}`);
  }
  // udev is absent here; partx creates the nodes itself, give it a moment when they lag
  for (let i = 0; i < 50 && !existsSync(`${device}p1`) && r.status === 0; i++) run('sleep', ['0.05']);
}
