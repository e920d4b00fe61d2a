/**
 * The vault: the permanent archive of golden images and clone folders.
 *   volume.ts  is the vault's disk plugged in (the /Volumes check that holds on APFS)
 *   plan.ts    what to copy, what is identical, what conflicts: decided before anything is written
 *   copy.ts    one artifact copied whole or not at all, read back from the disk and compared
 *   sync.ts    vaultSyncJob
 *   verify.ts  vaultVerifyJob
 */
export { vaultSyncJob, type VaultSyncOptions, type VaultSyncResult } from './sync';
export {
  vaultVerifyJob,
  type VaultFileStatus,
  type VaultVerifyArtifact,
  type VaultVerifyResult,
} from './verify';
export type { VaultSyncFile, VaultSyncItem } from './copy';
export type { ChecksumReference, VaultConflict } from './plan';
export { checkVault, VOLUMES_ROOT, type VolumeOptions } from './volume';
