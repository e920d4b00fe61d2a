/**
 * The cards a multi-card job has chosen, as the drive list changes under it (Flash and Restore): one rule for
 * both pages, so a card that leaves and comes back behaves the same everywhere.
 */
import type { Drive } from '../../../main/contract';

/** The same physical card: same device, size and serial (what main checks before writing). */
export function sameCard(a: Drive, b: Drive): boolean {
  return a.device === b.device && a.size === b.size && a.serial === b.serial;
}

export interface CardSelection {
  /** the devices ticked in the picker */
  selected: string[];
  /** the cards listed in the open confirm dialog */
  confirmed: Drive[];
  confirming: boolean;
  /** confirmed cards pulled out while the dialog was open: shown as removed, never written */
  removed: Drive[];
}

/**
 * What a new drive list does to a selection: a card that is gone is unticked (and is not ticked again when it
 * returns); a confirmed card that left the open dialog moves to `removed`. Null when nothing changes.
 */
export function afterDrivesChanged(
  s: CardSelection,
  drives: Drive[],
): Pick<CardSelection, 'selected' | 'confirmed' | 'removed'> | null {
  const selected = s.selected.filter((device) => drives.some((d) => d.device === device));
  const gone = s.confirming ? s.confirmed.filter((c) => !drives.some((d) => sameCard(c, d))) : [];
  if (selected.length === s.selected.length && gone.length === 0) return null;
  return {
    selected,
    confirmed: s.confirmed.filter((c) => !gone.includes(c)),
    removed: [...s.removed, ...gone],
  };
}
