/**
 * What to do next, for every error code the engine can report, written for a person in the app: no command-line
 * flags, no codes to look up (Etcher's error texts, made specific). The message above the hint says what
 * happened; the hint must not repeat it. The renderer shows them (ErrorNotice); test/unit/app/hints.test.ts
 * walks the engine's codes against this table.
 */
export const HINTS: Readonly<Record<string, string>> = {
  // input
  INVALID_ARGUMENT: 'Correct the value marked above and try again.',
  NOT_FOUND: 'Check that it is still there (is its disk plugged in?), then choose it again.',
  // the messages say what to choose instead; the hint adds what did not happen
  ALREADY_EXISTS: 'Nothing was overwritten: Atlas Imager replaces a file only when you ask it to.',
  UNSUPPORTED: 'Choose another file: the message above names the kinds Atlas Imager can use.',
  CONFIRMATION_REQUIRED: 'Check the card in the confirmation, then confirm again.',
  // archives and images
  BAD_MAGIC: 'This is not a partclone image. Choose the clone folder again, or take its copy from the vault.',
  BAD_HEADER: 'The partition image is damaged. Restore from the copy in the vault.',
  BAD_BITMAP: 'The partition image is damaged. Restore from the copy in the vault.',
  CHECKSUM_MISMATCH: 'The archive is damaged: restore from another copy (the vault keeps one).',
  TRUNCATED: 'The file ends early: it was not copied or downloaded completely. Copy or download it again.',
  // the message already says to copy or download it again
  CORRUPT_ARCHIVE:
    'Where the image came with a checksum (Armbian puts a .sha file beside each download), compare it to tell a bad download from a failing disk.',
  MALFORMED_DUMP:
    'The clone folder’s partition table file is damaged. Restore from the copy in the vault instead.',
  NO_PARTITION_TABLE:
    'This card holds no partitions to clone: it may be blank, or newly formatted. Check it is the configured kiosk card.',
  MANIFEST_MISMATCH: 'A file in the folder changed since it was made: use another copy from the vault.',
  FS_NOT_CLEAN:
    'Boot the kiosk once more and shut it down properly (do not pull the power), then clone the card again.',
  FS_UNSUPPORTED: 'Only the boot (FAT) and root (ext4) partitions of an Atlas card can be cloned.',
  // sources and targets
  TARGET_TOO_SMALL: 'Use a larger card.',
  SOURCE_MOUNTED: 'Eject the card’s partitions in your file manager, then try again.',
  TARGET_MOUNTED: 'Eject the card’s partitions in your file manager, then try again.',
  NOT_REMOVABLE: 'Choose an SD card or USB drive instead.',
  SYSTEM_DISK: 'Choose an SD card or USB drive instead.',
  READ_ONLY: 'Slide the lock switch on the side of the SD card to unlocked, reinsert it and try again.',
  DRIVE_CHANGED:
    'Cards can look alike: check the label on the card in the reader, then pick it from the list.',
  DRIVE_REMOVED: 'Check the card is seated and the reader is connected, then start again.',
  SOURCE_IS_TARGET: 'Copy the source to another disk first, or choose another card.',
  VERIFY_MISMATCH:
    'The card did not read back as written. Do not use it: try another card, or another reader.',
  FAKE_CAPACITY:
    'Throw this card away: it holds less than its label says and loses what is written past that. Use a card from a seller you trust.',
  // the vault
  CONFLICT: 'Rename or remove one of the two, then sync again; or sync only the other items.',
  VAULT_UNAVAILABLE: 'Plug in the vault’s disk, or choose the vault folder again in the Library.',
  PERMISSION_DENIED:
    'Atlas Imager may not open this. On macOS, give it Full Disk Access in System Settings › Privacy & Security.',
  ELEVATION_FAILED:
    'Writing a card needs administrator rights. Accept the password prompt; on Linux make sure a polkit agent is running.',
  IO_ERROR: 'The card, the reader or the port may be faulty. Try another reader or port.',
  VAULT_FULL: 'Free some space on the vault’s disk, or copy fewer items at a time.',
  // remote build folders
  SSH_UNREACHABLE:
    'Check that the build box is switched on and on the network, and that its name and port are right in Settings.',
  SSH_AUTH_FAILED:
    'Atlas Imager signs in with your SSH keys and agent, never a password: check that your key is loaded and that the build box accepts it.',
  SSH_HOST_KEY:
    'Confirm the build box’s key fingerprint with whoever set it up, connect once from a Terminal with ssh to record it, then try again.',
  REMOTE_NOT_FOUND:
    'Check the folder’s path on the build box in Settings, or that the artifact is still there.',
  REMOTE_READ_ERROR:
    'The build box could not read the file: its disk may be failing. Check it there, or make the artifact again.',
  // product rules
  NOT_ARMBIAN_BASE:
    'Insert needs a base Armbian image for the Raspberry Pi 4B, not a golden image or a clone.',
  PHASE_RULE:
    'Insert creates Phase 0 from the base Armbian image; Clone creates Phase 1 from a device that has booted. Never cross these.',
  CANCELLED: 'A card that was being written is incomplete: write it again before using it.',
  INTERNAL:
    'This is a fault in Atlas Imager. Try again; if it happens again, report the message and the code.',
};

/** Shown for a code the table does not know (a newer engine): never blank. */
const FALLBACK = 'Check the message above and try again. If it happens again, report it with the code.';

export function hintFor(code: string): string {
  return HINTS[code] ?? FALLBACK;
}
