/**
 * One bar per card of a running device job (flash, restore): the card's name as the person knows it (model and
 * size, the /dev path small), what it is doing now and how far, and why it failed. Fed by JobProgress.cards.
 */
import type { CardProgress, Drive } from '../../../main/contract';
import { CARD_STATE_LABELS } from '../../../main/shared/stages';
import { formatBytes, formatCardSize } from '../format';

/** The card's name for a person: its model and size, as the drive list described it when the job started. */
export function cardName(device: string, drives: readonly Drive[]): string {
  const drive = drives.find((d) => d.device === device);
  if (!drive) return device;
  return `${drive.description || 'Card'} (${formatCardSize(drive.size)})`;
}

export function CardProgressList({
  cards,
  drives,
  testId = 'card-progress',
}: {
  cards: readonly CardProgress[];
  /** the cards as confirmed: their names */
  drives: readonly Drive[];
  testId?: string;
}) {
  return (
    <ul className="card-bars" data-testid={testId}>
      {cards.map((c) => {
        const name = cardName(c.device, drives);
        const percent =
          c.state === 'done'
            ? 100
            : c.bytesTotal
              ? Math.min(100, Math.floor((c.bytesDone / c.bytesTotal) * 100))
              : null;
        return (
          <li
            key={c.device}
            className={`card-bar card-bar-${c.state}`}
            data-testid={`${testId}-${c.device}`}
            data-state={c.state}
          >
            <div className="card-bar-head">
              <span>
                <strong>{name}</strong> <span className="path-small">{c.device}</span>
              </span>
              <span className="card-bar-state" data-testid={`${testId}-${c.device}-state`}>
                {CARD_STATE_LABELS[c.state]}
                {percent !== null && c.state !== 'failed' && c.state !== 'done' ? ` ${percent}%` : ''}
              </span>
            </div>
            {c.state !== 'failed' && (
              <progress
                className="progress-bar"
                max={100}
                value={percent ?? undefined}
                aria-label={`${name}: ${CARD_STATE_LABELS[c.state]}`}
              />
            )}
            {c.state === 'failed' && c.error && <p className="card-bar-error">{c.error.message}</p>}
            {c.state !== 'failed' && c.state !== 'done' && c.bytesTotal !== null && (
              <p className="muted card-bar-bytes">
                {formatBytes(c.bytesDone)} of {formatBytes(c.bytesTotal)}
              </p>
            )}
          </li>
        );
      })}
    </ul>
  );
}
