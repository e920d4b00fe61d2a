import type { Drive } from '../../../main/contract';

/** In a confirm dialog: the chosen cards that were pulled out while it was open (they will not be written). */
export function RemovedCards({ removed }: { removed: Drive[] }) {
  if (removed.length === 0) return null;
  return (
    <ul className="confirm-list" data-testid="confirm-removed" aria-live="polite">
      {removed.map((d) => (
        <li key={d.device} className="confirm-removed">
          <strong>{d.description || d.device}</strong> was removed: it will not be written.
        </li>
      ))}
    </ul>
  );
}
