/**
 * The vault: the permanent archive of golden images and clone folders.
 *   volume.ts  is the vault's disk plugged in (the /Volumes check that holds on APFS)
 *   plan.ts    what to copy, what is identical, what conflicts: decided before anything is written
 *   copy.ts    one artifact copied whole or not at all, read back from the disk and compared
 *   sync.ts    vaultSyncJob from a local build folder
 *   remote-pull.ts  the same from a remote build folder (ssh://host/~/atlas-build) over the system's ssh
 *   verify.ts  vaultVerifyJob
 */
import { isRemoteFolderText } from '../../../shared/remote-folders';
import type { JobControl } from '../../progress';
import { remotePullJob, type RemotePullOptions } from './remote-pull';
import { vaultSyncJob as localSyncJob, type VaultSyncResult } from './sync';

export type { VaultSyncOptions, VaultSyncResult } from './sync';
export { remotePullJob, type RemotePullOptions } from './remote-pull';

/** A vault sync from the build folder `options.from`: a local folder, or a remote one (ssh://…). */
export async function vaultSyncJob(
  options: RemotePullOptions,
  control: JobControl = {},
): Promise<VaultSyncResult> {
  return isRemoteFolderText(options.from) ? remotePullJob(options, control) : localSyncJob(options, control);
}
export {
  vaultVerifyJob,
  type VaultFileStatus,
  type VaultVerifyArtifact,
  type VaultVerifyResult,
} from './verify';
export type { VaultSyncFile, VaultSyncItem } from './copy';
export type { ChecksumReference, VaultConflict } from './plan';
export { checkVault, VOLUMES_ROOT, type VolumeOptions } from './volume';
