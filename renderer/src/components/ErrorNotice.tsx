import type { ErrorDTO } from '../../../main/contract';
import { hintFor } from '../hints';

/** An engine error as a person reads it: the sentence, what to do, and the code for a bug report. */
export function ErrorNotice({
  error,
  title = 'Something went wrong',
  testId = 'error',
}: {
  error: ErrorDTO;
  title?: string;
  testId?: string;
}) {
  return (
    <div className="notice notice-error" role="alert" data-testid={testId} data-code={error.code}>
      <strong className="notice-title">{title}</strong>
      <p className="notice-message" data-testid={`${testId}-message`}>
        {error.message}
      </p>
      <p className="notice-hint">{hintFor(error.code)}</p>
      <p className="notice-code">Code: {error.code}</p>
    </div>
  );
}
