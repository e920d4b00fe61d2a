import { useAnyJob, useJobs } from '../stores/jobs';
import { formatBytes, formatDuration, formatRate } from '../format';
import { stageLabel } from '../../../main/shared/stages';
import { ErrorNotice } from './ErrorNotice';
import { CardProgressList } from './CardProgressList';
import type { Drive } from '../../../main/contract';

/**
 * Stage, percent, MB/s and ETA of a running job, with a Cancel button; a device job that reports its cards
 * gets one bar per card, named from `drives` (the cards as confirmed).
 */
export function ProgressPanel({
  jobId,
  title,
  drives = [],
}: {
  jobId: string;
  title: string;
  drives?: readonly Drive[];
}) {
  const job = useAnyJob(jobId);
  const cancel = useJobs((s) => s.cancel);
  const p = job?.progress ?? null;
  const percent = p?.bytesTotal ? Math.min(100, Math.floor((p.bytesDone / p.bytesTotal) * 100)) : null;
  return (
    <section className="card progress-card" data-testid="progress" data-job-id={jobId}>
      <h2>{title}</h2>
      {/* announced when the stage changes, not on every tick of the numbers */}
      <p className="sr-only" aria-live="polite" data-testid="progress-announce">
        {p ? stageLabel(p.stage) : 'Starting'}
      </p>
      <div className="progress-stage">
        <span data-testid="progress-stage">{p ? stageLabel(p.stage) : 'Starting…'}</span>
        {percent !== null && (
          <span className="progress-percent" data-testid="progress-percent">
            {percent}%
          </span>
        )}
      </div>
      <progress
        className="progress-bar"
        max={100}
        value={percent ?? undefined}
        aria-label={p ? `${stageLabel(p.stage)} progress` : 'Progress'}
      />
      <dl className="progress-facts">
        <div>
          <dt>Done</dt>
          <dd>
            {p ? formatBytes(p.bytesDone) : '—'}
            {p?.bytesTotal ? ` of ${formatBytes(p.bytesTotal)}` : ''}
          </dd>
        </div>
        <div>
          <dt>Speed</dt>
          <dd data-testid="progress-rate">{p && p.rate > 0 ? formatRate(p.rate) : '—'}</dd>
        </div>
        <div>
          <dt>Time left</dt>
          <dd data-testid="progress-eta">{p?.etaSeconds != null ? formatDuration(p.etaSeconds) : '—'}</dd>
        </div>
      </dl>
      {p?.cards ? (
        <CardProgressList cards={p.cards} drives={drives} />
      ) : (
        p?.detail && <p className="muted">{p.detail}</p>
      )}
      {job?.cancelError && (
        <ErrorNotice error={job.cancelError} title="The job could not be cancelled" testId="cancel-error" />
      )}
      <div className="actions">
        <button
          type="button"
          className="button"
          onClick={() => void cancel(jobId)}
          disabled={!job || job.cancelling || job.outcome !== null}
          data-testid="cancel-job"
        >
          {job?.cancelling ? 'Cancelling…' : 'Cancel'}
        </button>
      </div>
    </section>
  );
}
