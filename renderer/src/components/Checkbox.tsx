/** A labelled checkbox: one look and one behaviour for every option in the app. */
export function Checkbox({
  checked,
  onChange,
  testId,
  disabled = false,
  describedBy,
  children,
}: {
  checked: boolean;
  onChange: (checked: boolean) => void;
  testId: string;
  disabled?: boolean;
  /** the id of the hint that explains the option */
  describedBy?: string;
  children: React.ReactNode;
}) {
  return (
    <label className="check">
      <input
        type="checkbox"
        checked={checked}
        onChange={(e) => onChange(e.target.checked)}
        disabled={disabled}
        aria-describedby={describedBy}
        data-testid={testId}
      />
      {children}
    </label>
  );
}
