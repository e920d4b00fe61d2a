/**
 * A page's main button, always in sight (sticky at the bottom), with the reason it cannot be pressed yet beside
 * it. It stays focusable while unavailable (aria-disabled, not disabled), so a keyboard or screen-reader user
 * reaches it and hears why.
 */
export function MainAction({
  label,
  reason,
  onClick,
  testId,
  children,
}: {
  label: string;
  /** why it cannot be pressed now; null when it can */
  reason: string | null;
  onClick(): void;
  testId: string;
  /** anything shown before the button (an error, a note) */
  children?: React.ReactNode;
}) {
  const reasonId = `${testId}-reason`;
  return (
    <div className="actions main-action">
      {children}
      {reason && (
        <span id={reasonId} className="disabled-reason" data-testid={reasonId}>
          {reason}
        </span>
      )}
      <button
        type="button"
        className="button button-primary"
        aria-disabled={reason !== null}
        aria-describedby={reason ? reasonId : undefined}
        onClick={() => {
          if (reason === null) onClick();
        }}
        data-testid={testId}
      >
        {label}
      </button>
    </div>
  );
}
