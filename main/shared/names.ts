/**
 * Artifact names, the one rule for every layer: the renderer previews them as the user types, the handlers, the
 * CLI and the engine refuse what breaks them (main/engine/names.ts turns a refusal into an AtlasError). Pure (no
 * Node, no DOM).
 */

/**
 * Tags end up in file and folder names (ods-atlas-golden-v8-1-FLASH.img, golden-clone-v8-1-0-FEATURE/): runs of
 * letters and digits joined by single '.', '-' or '_', as the team's names are. Nothing that begins or ends with
 * a separator (a hidden `.x` file, `x-`), no `a..b`, at most 64 characters.
 */
const TAG_PATTERN = /^[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*$/;
export const TAG_MAX_LENGTH = 64;

export function isValidTag(tag: string): boolean {
  return tag.length <= TAG_MAX_LENGTH && TAG_PATTERN.test(tag);
}

export const TAG_RULE = `Use letters and digits, joined by single ".", "-" or "_" (e.g. FLASH or v8-1-0-FEATURE), at most ${TAG_MAX_LENGTH} characters.`;

/** The golden image's version N and patch P: whole numbers up to 9999. */
export const GOLDEN_NUMBER_MAX = 9999;

export function isValidGoldenNumber(value: number): boolean {
  return Number.isInteger(value) && value >= 0 && value <= GOLDEN_NUMBER_MAX;
}

/** A version or patch number as typed ("8"): its value, or null when it is not one the rule accepts. */
export function parseGoldenNumber(text: string): number | null {
  if (!/^\d{1,4}$/.test(text)) return null;
  const value = Number(text);
  return isValidGoldenNumber(value) ? value : null;
}

/** Phase 0: ods-atlas-golden-vN-P-TAG (the image is NAME.img, its manifest NAME.manifest.json) */
export function goldenName(version: number, patch: number, tag: string): string {
  return `ods-atlas-golden-v${version}-${patch}-${tag}`;
}

export function goldenImageName(version: number, patch: number, tag: string): string {
  return `${goldenName(version, patch, tag)}.img`;
}

/** Phase 1: golden-clone-TAG/ */
export function cloneFolderName(tag: string): string {
  return `golden-clone-${tag}`;
}

export const GOLDEN_IMAGE_PATTERN = /^ods-atlas-golden-v(\d+)-(\d+)-(.+)\.img$/;
export const CLONE_FOLDER_PATTERN = /^golden-clone-(.+)$/;

/** Drives over this size are rarely SD cards: writing to one needs an explicit confirmation (as Etcher). */
export const LARGE_DRIVE_BYTES = 128e9;
