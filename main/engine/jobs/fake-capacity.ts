/**
 * Telling a fake-capacity card from a faulty one when a flash's read-back differs. A fake card stores offset x at
 * x mod C (C its real size): after the flash, its block b holds the image's last block written to the same place,
 * b + k·p (p = C in blocks, k as large as the image allows). Flash keeps a hash per segment of every block it
 * wrote, so the read-back of a bad block is compared with those of the blocks one period, two periods … later.
 *
 * The head of the card is written last, so the first bad block can be a mix: the two blocks after it are asked
 * too.
 */
import { AtlasError } from '../errors';
import { formatBytes } from '../format';

/** The block that lands at block `b` last if the card wraps every `period` blocks (`b` itself when none does). */
function landsAt(b: number, period: number, blocks: number): number {
  return b + Math.floor((blocks - 1 - b) / period) * period;
}

function same(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  return a !== undefined && b !== undefined && a.length === b.length && a.every((h, k) => h === b[k]);
}

/** The periods (in blocks, ascending) that explain what was read back at block `b`. */
export function periodsExplaining(
  b: number,
  readBack: readonly string[],
  hashes: readonly string[][],
): number[] {
  const periods: number[] = [];
  for (let p = 1; b + p < hashes.length; p++) {
    const j = landsAt(b, p, hashes.length);
    if (j > b && !same(hashes[j], hashes[b]) && same(readBack, hashes[j])) periods.push(p);
  }
  return periods;
}

/**
 * The card's probable real size in blocks, or null when the read-backs do not have the wrap-around signature.
 * `readBackAt(b)` hashes block b as the card holds it (null past the image).
 *
 * Several periods can explain one block (a block landing 12 blocks later fits periods 3, 4, 6 and 12), so each
 * candidate is put to the card itself: on a card that wraps every p blocks, blocks b and b + p are the same
 * place and read back the same. The smallest period that passes is the card's size.
 */
export async function wrapPeriod(
  bad: number,
  hashes: readonly string[][],
  readBackAt: (b: number) => Promise<string[] | null>,
): Promise<number | null> {
  for (let b = bad; b < Math.min(bad + 3, hashes.length); b++) {
    const readBack = await readBackAt(b);
    if (!readBack) break;
    for (const p of periodsExplaining(b, readBack, hashes)) {
      const twin = await readBackAt(b + p);
      if (twin && same(twin, readBack) && !same(hashes[b + p], readBack)) return p;
    }
  }
  return null;
}

export function fakeCapacityError(
  device: string,
  claimedBytes: number,
  realBytes: number,
  at: number,
): AtlasError {
  return new AtlasError(
    'FAKE_CAPACITY',
    `${device} is probably a fake-capacity card: it claims ${formatBytes(claimedBytes)} but holds about ` +
      `${formatBytes(realBytes)}; what is written past that lands back at its start (the read-back differs from ` +
      `byte ${at} on). Do not use it or try it again: it will lose data. Use another card.`,
    { device, claimedBytes, realBytes, offset: at },
  );
}
