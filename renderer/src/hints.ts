/** What to do next, for each error code the engine can report (Etcher's error texts, made specific). */
const HINTS: Record<string, string> = {
  VERIFY_MISMATCH:
    'The card did not read back as written. Do not use it: try another card, or another reader.',
  DRIVE_REMOVED: 'Check the card is seated and the reader is connected, then start again.',
  DRIVE_CHANGED: 'The card plugged in is not the one you confirmed. Choose the card again.',
  READ_ONLY: 'Slide the lock switch on the side of the SD card to unlocked, reinsert it and try again.',
  PERMISSION_DENIED: 'On macOS, give Atlas Imager Full Disk Access in System Settings › Privacy & Security.',
  ELEVATION_FAILED:
    'Writing a card needs administrator rights. Accept the password prompt; on Linux make sure a polkit agent is running.',
  TARGET_TOO_SMALL: 'Use a bigger card.',
  SYSTEM_DISK: 'Choose an SD card or USB drive instead.',
  NOT_REMOVABLE: 'Choose an SD card or USB drive instead.',
  SOURCE_IS_TARGET: 'Copy the source to another disk first, or choose another card.',
  CORRUPT_ARCHIVE: 'The image file is damaged. Copy or download it again.',
  TRUNCATED: 'The file ends early. Copy or download it again.',
  CHECKSUM_MISMATCH: 'The archive is damaged: restore from another copy (the vault keeps one).',
  MANIFEST_MISMATCH: 'A file in the folder changed since it was made: use another copy from the vault.',
  IO_ERROR: 'The card, the reader or the port may be faulty. Try another reader or port.',
  NOT_ARMBIAN_BASE:
    'Insert needs a base Armbian image for the Raspberry Pi 4B, not a golden image or a clone.',
  PHASE_RULE: 'Insert creates Phase 0. Clone creates Phase 1. Never cross these.',
  ALREADY_EXISTS: 'Choose another tag, or move the old one away.',
  UNSUPPORTED: 'This part of Atlas Imager is not in this build yet.',
  CANCELLED: 'Stopped. A card that was being written is incomplete: write it again before using it.',
  INVALID_ARGUMENT: 'Correct the value and try again.',
  NOT_FOUND: 'Check the path, or choose the file again.',
};

export function hintFor(code: string): string {
  return (
    HINTS[code] ?? 'Check the message above and try again. If it happens again, note the code and report it.'
  );
}
