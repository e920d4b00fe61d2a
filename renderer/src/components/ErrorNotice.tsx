import type { Drive, ErrorDTO } from '../../../main/contract';
import { hintFor } from '../hints';
import { cardName } from './CardProgressList';

/**
 * An engine error as a person reads it: the sentence, what to do, and the code for a bug report. A job the
 * person cancelled is not a failure: it shows as a neutral "Cancelled", without the red. A job that failed on each
 * of several cards shows every card with its own error, side by side, as the cards of a job that ended do.
 */
export function ErrorNotice({
  error,
  title = 'Something went wrong',
  testId = 'error',
  drives = [],
}: {
  error: ErrorDTO;
  title?: string;
  testId?: string;
  /** the job's cards, to name them as the person chose them */
  drives?: readonly Drive[];
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
      {error.cards ? (
        <>
          <p className="notice-message" data-testid={`${testId}-message`}>
            Every card failed.
          </p>
          <ul className="card-results">
            {error.cards.map((c) => (
              <li key={c.device} className="card-failed" data-testid={`${testId}-${c.device}`}>
                <strong>{cardName(c.device, drives)}</strong> <span className="path-small">{c.device}</span>
                <div className="card-bar-error">Failed: {c.message}</div>
              </li>
            ))}
          </ul>
        </>
      ) : (
        <p className="notice-message" data-testid={`${testId}-message`}>
          {error.message}
        </p>
      )}
      {/* each card failed in its own way: one code's advice would fit only some of them */}
      {!error.cards && <p className="notice-hint">{hintFor(error.code)}</p>}
      {!cancelled && <p className="notice-code">Code: {error.code}</p>}
    </div>
  );
}
