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

/** A card as the job log and the deployments record it: its model (else its device), size and serial. */
export function recordedCard(card: {
  device: string;
  model: string;
  serial: string | null;
  size: number | null;
}): string {
  return `${card.model || card.device} ${formatCardSize(card.size)}${card.serial ? ` S/N ${card.serial}` : ''}`;
}

/** A sha256 in a list: its first 12 hex digits (the whole one goes in a title). */
export function shortHash(sha256: string): string {
  return `${sha256.slice(0, 12)}…`;
}
