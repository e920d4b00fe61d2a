import type { ErrorDTO } from '../../../main/contract';
import { hintFor } from '../hints';

/**
 * An engine error as a person reads it: the sentence, what to do, and the code for a bug report. A job the
 * person cancelled is not a failure: it shows as a neutral "Cancelled", without the red.
 */
export function ErrorNotice({
  error,
  title = 'Something went wrong',
  testId = 'error',
}: {
  error: ErrorDTO;
  title?: string;
  testId?: string;
}) {
  const cancelled = error.code === 'CANCELLED';
  return (
    <div
      className={`notice ${cancelled ? 'notice-neutral' : 'notice-error'}`}
      role={cancelled ? 'status' : 'alert'}
      data-testid={testId}
      data-code={error.code}
    >
      <strong className="notice-title">{cancelled ? 'Cancelled' : title}</strong>
      <p className="notice-message" data-testid={`${testId}-message`}>
        {error.message}
      </p>
      <p className="notice-hint">{hintFor(error.code)}</p>
      {!cancelled && <p className="notice-code">Code: {error.code}</p>}
    </div>
  );
}
