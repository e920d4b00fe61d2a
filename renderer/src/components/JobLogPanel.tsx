/**
 * The Library page's job log: every flash, clone, restore, insert and vault sync this app (or the CLI) ran,
 * newest first, reloaded as jobs end.
 */
import { useEffect } from 'react';
import type { JobLogEntry } from '../../../main/contract';
import { useJobLog } from '../stores/job-log';
import { formatDate, recordedCard, shortHash } from '../format';
import { DataTable, type Column } from './DataTable';
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

const COLUMNS: Array<Column<JobLogEntry>> = [
  { header: 'When', cell: (e) => formatDate(e.time) },
  { header: 'Job', cell: (e) => JOB_NAMES[e.job] },
  {
    header: 'From',
    cell: (e) => (
      <>
        {e.source.split('/').pop()}
        {e.sha256 && <span className="muted"> sha256 {shortHash(e.sha256)}</span>}
      </>
    ),
  },
  // an insert or a vault sync writes files, not cards
  { header: 'Cards', cell: (e) => (e.cards.length ? e.cards.map(recordedCard).join(', ') : '—') },
  {
    header: 'Result',
    cell: (e) => (
      <span className={`badge ${RESULTS[e.result][1]}`} title={e.error ?? undefined}>
        {RESULTS[e.result][0]}
      </span>
    ),
  },
];

export function JobLogPanel() {
  const { entries, error, watch } = useJobLog();
  useEffect(() => watch(), [watch]);

  return (
    <section className="card" data-testid="job-log">
      <h2>Job log</h2>
      {error && <ErrorNotice error={error} title="The job log could not be read" />}
      <DataTable
        label="Job log"
        rows={entries}
        columns={COLUMNS}
        rowKey={(e, i) => `${e.time}-${i}`}
        rowProps={() => ({ 'data-testid': 'job-log-entry' })}
        empty="No flash, clone, restore, insert or vault sync has run yet."
      />
    </section>
  );
}
