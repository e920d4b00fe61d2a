import type { JobOutcome } from '../../../main/contract';

/**
 * The main button under a finished job: what comes next after a success, "Try again" after a failure, and a
 * plain restart after the person cancelled (not a failure).
 */
export function againLabel(outcome: JobOutcome, afterSuccess: string, afterCancel: string): string {
  if (outcome.ok) return afterSuccess;
  return outcome.error.code === 'CANCELLED' ? afterCancel : 'Try again';
}
