/**
 * How a device job ended on each card (flash, restore): the time it took, the average speed, the checksum of
 * what was written, and per card whether it took the image and whether it is safe to pull out.
 */
import type { Drive, ErrorDTO } from '../../../main/contract';
import { formatDuration, formatRate } from '../format';
import { cardName } from './CardProgressList';

/** One card's end, as a job's result reports it. */
export interface CardOutcome {
  device: string;
  ok: boolean;
  /** read back and compared; undefined when the job does not verify */
  verified?: boolean;
  /** ejected by the app: safe to remove */
  ejected: boolean;
  error?: ErrorDTO;
}

export function CardResults({
  cards,
  drives,
  seconds,
  bytesPerCard,
  rateSeconds,
  sha256,
  checksumLabel = 'Checksum (SHA-256)',
  noChecksum = 'None recorded beside the image',
  details = {},
  testId = 'card-results',
}: {
  cards: readonly CardOutcome[];
  drives: readonly Drive[];
  /** the job's elapsed time */
  seconds: number;
  /** the bytes written to each card, and the seconds the writing took (the average speed) */
  bytesPerCard: number;
  rateSeconds: number;
  /** the sha256 of what was written (a restore: of the clone's manifest, which holds its files'); null when nothing records it */
  sha256: string | null;
  /** what `sha256` is the hash of */
  checksumLabel?: string;
  /** said when there is no checksum */
  noChecksum?: string;
  /** device → more about that card's end (a deploy's hostname and identity changes) */
  details?: Readonly<Record<string, React.ReactNode>>;
  testId?: string;
}) {
  return (
    <div data-testid={testId}>
      <dl className="progress-facts">
        <div>
          <dt>Time</dt>
          <dd data-testid={`${testId}-time`}>{formatDuration(seconds)}</dd>
        </div>
        <div>
          <dt>Average speed</dt>
          <dd data-testid={`${testId}-speed`}>
            {rateSeconds > 0 ? formatRate(bytesPerCard / rateSeconds) : '—'}
          </dd>
        </div>
        <div>
          <dt>{checksumLabel}</dt>
          <dd data-testid={`${testId}-sha256`}>
            {sha256 ? (
              <code className="checksum">{sha256}</code>
            ) : (
              <span className="muted">{noChecksum}</span>
            )}
          </dd>
        </div>
      </dl>
      <ul className="card-results">
        {cards.map((c) => (
          <li
            key={c.device}
            className={c.ok ? 'card-ok' : 'card-failed'}
            data-testid={`${testId}-${c.device}`}
          >
            <strong>{cardName(c.device, drives)}</strong> <span className="path-small">{c.device}</span>
            <div>
              {c.ok ? (
                <>
                  {c.verified === false
                    ? 'Written (not verified)'
                    : c.verified
                      ? 'Written and verified'
                      : 'Written'}
                  {c.ejected ? (
                    <span className="badge badge-ok" data-testid={`${testId}-${c.device}-safe`}>
                      Safe to remove
                    </span>
                  ) : (
                    <span className="muted"> — eject it from the system before removing it</span>
                  )}
                </>
              ) : (
                <span className="card-bar-error">Failed: {c.error?.message ?? 'no reason was given'}</span>
              )}
            </div>
            {details[c.device]}
          </li>
        ))}
      </ul>
    </div>
  );
}
