/**
 * "Check this card" on each chosen card, offered before a deploy: cheap bulk cards often claim more than they
 * hold, and a fake card takes the clone, passes nothing and fails in the field. Each card's check in words:
 * genuine, or fake with the size it really holds; and whether its own bytes were put back.
 */
import type { CheckCardResult, Drive } from '../../../main/contract';
import { useJobs } from '../stores/jobs';
import type { CardCheck } from '../stores/restore';
import { formatCardSize, formatDuration } from '../format';
import { cardName } from './CardProgressList';
import { ErrorNotice } from './ErrorNotice';

/** What a check found, for a person. */
export function checkVerdict(r: CheckCardResult): string {
  if (r.verdict === 'genuine') {
    return `Genuine: holds the ${formatCardSize(r.claimedBytes)} it claims (${r.probes} places checked in ${formatDuration(r.seconds)}).`;
  }
  const real = r.realBytesAtMost !== null ? formatCardSize(r.realBytesAtMost) : 'far less';
  return (
    `Fake: it claims ${formatCardSize(r.claimedBytes)} but holds at most ${real}` +
    `${r.wrapsAt !== null ? ', and writes past that land back at its start' : ''}. Do not use it: it will lose data.`
  );
}

export function CardChecks({
  cards,
  checks,
  onCheck,
  disabled,
}: {
  cards: readonly Drive[];
  checks: Record<string, CardCheck>;
  onCheck(): void;
  disabled: boolean;
}) {
  const jobs = useJobs((s) => s.jobs);
  const running = cards.some((c) => {
    const id = checks[c.device]?.jobId;
    return id ? !jobs[id]?.outcome : false;
  });
  const checked = cards.some((c) => checks[c.device]);
  return (
    <div className="card-checks" data-testid="card-checks">
      <p className="muted">
        Cheap cards sometimes hold much less than they claim. A check writes a few KiB at places across each
        card, reads them back and puts the card&apos;s own bytes back: seconds per card.
      </p>
      <ul className="card-results">
        {cards
          .filter((c) => checks[c.device])
          .map((c) => {
            const check = checks[c.device]!;
            const job = check.jobId ? jobs[check.jobId] : undefined;
            const outcome = job?.outcome;
            const value = outcome?.ok && outcome.kind === 'check-card' ? outcome.value : null;
            return (
              <li
                key={c.device}
                className={value?.verdict === 'fake' || (outcome && !outcome.ok) ? 'card-failed' : 'card-ok'}
                data-testid={`card-check-${c.device}`}
              >
                <strong>{cardName(c.device, cards)}</strong> <span className="path-small">{c.device}</span>
                <div data-testid={`card-check-${c.device}-verdict`}>
                  {check.error && <ErrorNotice error={check.error} title="The check could not start" />}
                  {!check.error && !outcome && 'Checking…'}
                  {outcome && !outcome.ok && (
                    <ErrorNotice error={outcome.error} title="The check did not finish" />
                  )}
                  {value && (
                    <>
                      {checkVerdict(value)}{' '}
                      <span className={value.restored ? 'muted' : 'card-bar-error'}>
                        {value.restored
                          ? 'The bytes it wrote were put back.'
                          : 'Some of the places checked could not be put back: they may hold a marker now.'}
                      </span>
                    </>
                  )}
                </div>
              </li>
            );
          })}
      </ul>
      <div className="actions">
        <button
          type="button"
          className="button"
          onClick={onCheck}
          disabled={disabled || running || cards.length === 0}
          data-testid="restore-check-cards"
        >
          {running
            ? 'Checking…'
            : checked
              ? 'Check again'
              : cards.length > 1
                ? 'Check these cards first'
                : 'Check this card first'}
        </button>
      </div>
    </div>
  );
}
