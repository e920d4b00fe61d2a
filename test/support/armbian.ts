/** The project's Armbian-like rpi4b image (test/fixtures/make-armbian-image.sh), built into a scratch folder. */
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { hasCommand } from './sh';

// tests run from the repository root (npm test), whatever ATLAS_OUT the build went to
export const FIXTURE_SCRIPT = join(process.cwd(), 'test', 'fixtures', 'make-armbian-image.sh');

export interface ArmbianImageOptions {
  /** whole image, MiB (default 256) */
  imgMib?: number;
  /** FAT partition, MiB (default 64) */
  fatMib?: number;
  /** MiB of extra data in /var/lib/atlas-test (numbers.txt and random.bin) */
  extraMib?: number;
  /** a folder copied into the root filesystem */
  extraRoot?: string;
  /** seeds random.bin, so two images can differ */
  seed?: string;
  /**
   * the image as its first boot left it: armbian-firstrun appended IMAGE_UUID=<this> to
   * /etc/armbian-image-release and disabled itself (no multi-user.target.wants link)
   */
  firstBootImageUuid?: string;
}

/** A test's `skip` when the fixture cannot be built here: it needs mkfs.ext4 and mtools' mcopy. */
export function skipWithoutFixtureTools(): string | false {
  return hasCommand('mkfs.ext4') && hasCommand('mcopy')
    ? false
    : 'needs mkfs.ext4 and mcopy to build the fixture';
}

export function makeArmbianImage(path: string, options: ArmbianImageOptions = {}): string {
  execFileSync('bash', [FIXTURE_SCRIPT, path], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: {
      ...process.env,
      IMG_MIB: String(options.imgMib ?? 256),
      FAT_MIB: String(options.fatMib ?? 64),
      EXTRA_MIB: String(options.extraMib ?? 0),
      ...(options.extraRoot ? { EXTRA_ROOT: options.extraRoot } : {}),
      ...(options.seed ? { SEED: options.seed } : {}),
      ...(options.firstBootImageUuid ? { FIRST_BOOT_IMAGE_UUID: options.firstBootImageUuid } : {}),
    },
  });
  return path;
}

/** Sector offsets of the fixture's partitions (Armbian's layout: p1 at 4 MiB, p2 right after the FAT). */
export function fixtureOffsets(fatMib = 64): { boot: number; root: number } {
  return { boot: 4 * 1024 * 1024, root: (4 + fatMib) * 1024 * 1024 };
}
