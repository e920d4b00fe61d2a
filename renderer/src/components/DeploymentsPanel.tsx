/**
 * The Library's deployments: every card a clone was restored onto (deployments.jsonl in the build folder),
 * newest first: when, which clone (its manifest's hash), which card, the hostname it got, whether it verified.
 */
import { useEffect } from 'react';
import type { DeploymentRecord } from '../../../main/contract';
import { INTENT_NAMES } from '../../../main/shared/restore-intents';
import { useDeployments } from '../stores/deployments';
import { useSettings } from '../stores/settings';
import { formatCardSize, formatDate } from '../format';
import { ErrorNotice } from './ErrorNotice';

function outcome(r: DeploymentRecord): [string, string] {
  if (!r.ok) return ['failed', 'badge-block'];
  return r.verified ? ['verified', 'badge-ok'] : ['written, not verified', 'badge-warn'];
}

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
      {records?.length === 0 && (
        <p className="empty">No clone has been restored onto a card from this build folder yet.</p>
      )}
      {records && records.length > 0 && (
        <table className="table">
          <thead>
            <tr>
              <th>When</th>
              <th>Clone</th>
              <th>Card</th>
              <th>Hostname</th>
              <th>Result</th>
            </tr>
          </thead>
          <tbody>
            {records.map((r, i) => {
              const [label, badge] = outcome(r);
              return (
                <tr key={`${r.time}-${r.card.device}-${i}`} data-testid="deployment-entry">
                  <td>{formatDate(r.time)}</td>
                  <td>
                    {r.cloneTag ?? r.clone} <span className="muted">{INTENT_NAMES[r.intent]}</span>
                    {r.manifestSha256 && (
                      <span className="muted" title={r.manifestSha256}>
                        {' '}
                        manifest sha256 {r.manifestSha256.slice(0, 12)}…
                      </span>
                    )}
                  </td>
                  <td>
                    {r.card.model || r.card.device} {formatCardSize(r.card.size)}
                    {r.card.serial ? ` S/N ${r.card.serial}` : ''}
                  </td>
                  <td>{r.hostname ? <code>{r.hostname}</code> : <span className="muted">its own</span>}</td>
                  <td>
                    <span className={`badge ${badge}`} title={r.error ?? undefined}>
                      {label}
                    </span>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </section>
  );
}
