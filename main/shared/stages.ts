/**
 * What the app calls each stage a job reports (the contract's JobStage): the progress panel and the CLI's
 * progress line show these. Typed as a Record so a stage added to the contract without a label does not build.
 */
import type { CardProgress, JobStage } from '../contract';

export const STAGE_LABELS: Record<JobStage, string> = {
  checking: 'Checking the base image',
  copying: 'Copying the base image',
  decompressing: 'Decompressing',
  hashing: 'Checking',
  injecting: 'Writing the files',
  writing: 'Writing',
  verifying: 'Verifying',
  cloning: 'Reading the card',
  restoring: 'Writing the card',
  'growing root': 'Growing the root partition',
  'checking hashes': 'Checking the checksums',
  // the vault sync: each file copied, then read back from the vault and compared
  syncing: 'Copying to the vault and reading back',
  'checking card': 'Checking the card holds what it claims',
};

export function stageLabel(stage: JobStage): string {
  return STAGE_LABELS[stage];
}

/** What the app says of one card of a multi-card job (the contract's CardProgress state), beside its bar. */
export const CARD_STATE_LABELS: Record<CardProgress['state'], string> = {
  writing: 'Writing',
  verifying: 'Reading back',
  finishing: 'Finishing',
  done: 'Done',
  failed: 'Failed',
};
