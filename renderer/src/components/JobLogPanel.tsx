/** The Library page's job log: every flash, clone and restore this app ran, newest first, reloaded as jobs end. */
import { useEffect } from 'react';
import type { JobLogEntry } from '../../../main/contract';
import { useJobLog } from '../stores/job-log';
import { formatCardSize, formatDate } from '../format';
import { ErrorNotice } from './ErrorNotice';

const JOB_NAMES: Record<JobLogEntry['job'], string> = {
  flash: 'Flash',
  clone: 'Clone',
  restore: 'Restore',
  insert: 'Insert',
  'vault-sync': 'Vault sync',
};
const RESULTS: Record<JobLogEntry['result'], [string, string]> = {
  succeeded: ['done', 'badge-ok'],
  failed: ['failed', 'badge-block'],
  cancelled: ['cancelled', 'badge-warn'],
};

export function JobLogPanel() {
  const { entries, error, watch } = useJobLog();
  useEffect(() => watch(), [watch]);

  return (
    <section className="card" data-testid="job-log">
      <h2>Job log</h2>
      {error && <ErrorNotice error={error} title="The job log could not be read" />}
      {entries?.length === 0 && <p className="empty">No card has been flashed, cloned or restored yet.</p>}
      {entries && entries.length > 0 && (
        <table className="table">
          <thead>
            <tr>
              <th>When</th>
              <th>Job</th>
              <th>From</th>
              <th>Cards</th>
              <th>Result</th>
            </tr>
          </thead>
          <tbody>
            {entries.map((e, i) => (
              <tr key={`${e.time}-${i}`} data-testid="job-log-entry">
                <td>{formatDate(e.time)}</td>
                <td>{JOB_NAMES[e.job]}</td>
                <td>
                  {e.source.split('/').pop()}
                  {e.sha256 && <span className="muted"> sha256 {e.sha256.slice(0, 12)}…</span>}
                </td>
                <td>
                  {e.cards
                    .map(
                      (c) =>
                        `${c.model || c.device} ${formatCardSize(c.size)}${c.serial ? ` S/N ${c.serial}` : ''}`,
                    )
                    .join(', ')}
                </td>
                <td>
                  <span className={`badge ${RESULTS[e.result][1]}`} title={e.error ?? undefined}>
                    {RESULTS[e.result][0]}
                  </span>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
