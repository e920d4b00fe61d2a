/**
 * The Library's deployments: every card a clone was restored onto (deployments.jsonl in the build folder),
 * newest first: when, which clone (its manifest's hash), which card, the hostname it got, whether it verified.
 */
import { useEffect } from 'react';
import type { DeploymentRecord } from '../../../main/contract';
import { INTENT_NAMES } from '../../../main/shared/restore-intents';
import { useDeployments } from '../stores/deployments';
import { useSettings } from '../stores/settings';
import { formatDate, recordedCard, shortHash } from '../format';
import { DataTable, type Column } from './DataTable';
import { ErrorNotice } from './ErrorNotice';

function outcome(r: DeploymentRecord): [string, string] {
  if (!r.ok) return ['failed', 'badge-block'];
  return r.verified ? ['verified', 'badge-ok'] : ['written, not verified', 'badge-warn'];
}

const COLUMNS: Array<Column<DeploymentRecord>> = [
  { header: 'When', cell: (r) => formatDate(r.time) },
  {
    header: 'Clone',
    cell: (r) => (
      <>
        {r.cloneTag ?? r.clone} <span className="muted">{INTENT_NAMES[r.intent]}</span>
        {r.manifestSha256 && (
          <span className="muted" title={r.manifestSha256}>
            {' '}
            manifest sha256 {shortHash(r.manifestSha256)}
          </span>
        )}
      </>
    ),
  },
  { header: 'Card', cell: (r) => recordedCard(r.card) },
  {
    header: 'Hostname',
    cell: (r) => (r.hostname ? <code>{r.hostname}</code> : <span className="muted">its own</span>),
  },
  {
    header: 'Result',
    cell: (r) => {
      const [label, badge] = outcome(r);
      return (
        <>
          <span className={`badge ${badge}`} title={r.error ?? undefined}>
            {label}
          </span>
          {!r.ok && r.reason && (
            <span className="path-small" data-testid="deployment-reason">
              {' '}
              {r.reason}
            </span>
          )}
        </>
      );
    },
  },
];

export function DeploymentsPanel() {
  const { records, error, watch, load } = useDeployments();
  const buildFolder = useSettings((s) => s.settings?.buildFolder);
  useEffect(() => watch(), [watch]);
  useEffect(() => {
    void load();
  }, [load, buildFolder]);

  return (
    <section className="card" data-testid="deployments">
      <h2>Deployments</h2>
      {error && <ErrorNotice error={error} title="The deployment record could not be read" />}
      <DataTable
        label="Deployments"
        rows={records}
        columns={COLUMNS}
        rowKey={(r, i) => `${r.time}-${r.card.device}-${i}`}
        rowProps={() => ({ 'data-testid': 'deployment-entry' })}
        empty="No clone has been restored onto a card from this build folder yet."
      />
    </section>
  );
}
