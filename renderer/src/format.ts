// One implementation for the CLI and the UI: main/shared is pure code both may import.
export { formatBytes, formatDuration, formatRate } from '../../main/shared/format';
export {
  goldenImageName,
  cloneFolderName,
  isValidTag,
  parseGoldenNumber,
  TAG_RULE,
  LARGE_DRIVE_BYTES,
  CLONE_FOLDER_PATTERN,
} from '../../main/shared/names';

/** Card makers count in decimal gigabytes: show sizes as printed on the card. */
export function formatCardSize(bytes: number | null): string {
  if (bytes === null) return 'size unknown';
  return bytes >= 1e9 ? `${(bytes / 1e9).toFixed(1)} GB` : `${(bytes / 1e6).toFixed(0)} MB`;
}

export function formatDate(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime())
    ? iso
    : d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}
