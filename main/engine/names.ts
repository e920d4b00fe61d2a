/**
 * The engine's side of main/shared/names: the same rules, refused as AtlasErrors. Every job, the handlers and
 * the CLI check names here, so a name the app previews is one the job accepts.
 */
import { AtlasError } from './errors';
import { GOLDEN_NUMBER_MAX, isValidGoldenNumber, isValidTag, TAG_RULE } from '../shared/names';

export function checkTag(tag: string): string {
  if (!isValidTag(tag)) {
    throw new AtlasError('INVALID_ARGUMENT', `The tag "${tag}" cannot be used in a file name. ${TAG_RULE}`);
  }
  return tag;
}

/** `what` names the field in the message: 'version N' or 'patch P'. */
export function checkGoldenNumber(value: number, what: string): number {
  if (!isValidGoldenNumber(value)) {
    throw new AtlasError(
      'INVALID_ARGUMENT',
      `The ${what} must be a whole number from 0 to ${GOLDEN_NUMBER_MAX} (got ${value}).`,
    );
  }
  return value;
}
