/**
 * Artifact names both sides need: the renderer previews them as the user types, main validates with the same
 * rules. Pure (no Node, no DOM).
 */

/** Tags end up in file and folder names: letters, digits, '.', '-', '_', starting with a letter or digit. */
export const TAG_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function isValidTag(tag: string): boolean {
  return TAG_PATTERN.test(tag);
}

export const TAG_RULE =
  'Use letters, digits, ".", "-" or "_", starting with a letter or digit (e.g. FLASH or v8-1-0-FEATURE).';

/** Phase 0: ods-atlas-golden-vN-P-TAG.img */
export function goldenImageName(version: number, patch: number, tag: string): string {
  return `ods-atlas-golden-v${version}-${patch}-${tag}.img`;
}

/** Phase 1: golden-clone-TAG/ */
export function cloneFolderName(tag: string): string {
  return `golden-clone-${tag}`;
}

export const GOLDEN_IMAGE_PATTERN = /^ods-atlas-golden-v(\d+)-(\d+)-(.+)\.img$/;
export const CLONE_FOLDER_PATTERN = /^golden-clone-(.+)$/;

/** Drives over this size are rarely SD cards: writing to one needs an explicit confirmation (as Etcher). */
export const LARGE_DRIVE_BYTES = 128e9;
