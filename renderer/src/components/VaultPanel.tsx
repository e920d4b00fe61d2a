/** The Library page's vault card: preview the sync (dry run), sync the build folder to the vault, verify the vault. */
import { useEffect } from 'react';
import type { VaultVerifyResult } from '../../../main/contract';
import { useJob } from '../stores/jobs';
import { useLibrary } from '../stores/library';
import { useVault, type VaultAction } from '../stores/vault';
import { formatBytes } from '../format';
import { PhaseBadge } from './artifacts';
import { DataTable, type Column } from './DataTable';
import { ErrorNotice } from './ErrorNotice';
import { ProgressPanel } from './ProgressPanel';
import { Checkbox } from './Checkbox';

type Checked = VaultVerifyResult['artifacts'][number];

const STATUS: Record<Checked['status'], [string, string]> = {
  ok: ['ok', 'badge-ok'],
  damaged: ['damaged', 'badge-block'],
  'no-checksum': ['no checksum', 'badge-warn'],
};

const CHECKED_COLUMNS: Array<Column<Checked>> = [
  { header: 'Name', cell: (a) => <strong>{a.name}</strong> },
  { header: 'Phase', cell: (a) => <PhaseBadge phase={a.phase} /> },
  {
    header: 'Status',
    cell: (a) => <span className={`badge ${STATUS[a.status][1]}`}>{STATUS[a.status][0]}</span>,
  },
  { header: 'Detail', cell: (a) => a.message, cellProps: () => ({ className: 'muted' }) },
];

export function VaultPanel() {
  const { jobs, error, checksum, setChecksum, start } = useVault();
  const load = useLibrary((s) => s.load);
  const preview = useJob(jobs.preview, 'vault-sync');
  const sync = useJob(jobs.sync, 'vault-sync');
  const verify = useJob(jobs.verify, 'vault-verify');
  const busy = [preview, sync, verify].some((j) => j !== null && j.outcome === null);
  const plan = preview?.outcome?.ok ? preview.outcome.value : null;
  const toCopy = plan?.items.filter((i) => i.action === 'would-copy') ?? [];
  const synced = sync?.outcome?.ok ? sync.outcome.value : null;
  const verified = verify?.outcome?.ok ? verify.outcome.value : null;

  // why Sync waits, said beside it and reachable by keyboard (the button stays focusable)
  const syncReason = busy
    ? null
    : synced !== null
      ? 'Synced. Preview again to see what is new.'
      : !plan
        ? 'Preview first: Sync copies what the preview lists.'
        : toCopy.length === 0
          ? 'Nothing to copy: the vault holds everything.'
          : null;
  const buttons: Array<{ action: VaultAction; label: string; disabled: boolean; reason?: string | null }> = [
    { action: 'preview', label: 'Preview sync', disabled: busy },
    { action: 'sync', label: 'Sync to vault', disabled: busy, reason: syncReason },
    { action: 'verify', label: 'Verify vault', disabled: busy },
  ];

  // the listing shows the vault's new artifacts once a sync is done
  useEffect(() => {
    if (synced) void load();
  }, [synced, load]);

  return (
    <section className="card" data-testid="vault-panel">
      <div className="card-header">
        <h2>Vault</h2>
        <div className="actions">
          {syncReason && (
            <span id="vault-sync-reason" className="disabled-reason" data-testid="vault-sync-reason">
              {syncReason}
            </span>
          )}
          {buttons.map(({ action, label, disabled, reason }) => (
            <button
              key={action}
              type="button"
              className={action === 'sync' ? 'button button-primary' : 'button'}
              disabled={disabled}
              aria-disabled={reason ? true : undefined}
              aria-describedby={reason ? `vault-${action}-reason` : undefined}
              onClick={() => {
                if (!reason) void start(action);
              }}
              data-testid={`vault-${action}`}
            >
              {label}
            </button>
          ))}
        </div>
      </div>
      <p className="muted">
        Copies what the vault lacks from the build folder, verified by reading back; never overwrites.
      </p>
      <Checkbox
        checked={checksum}
        onChange={setChecksum}
        disabled={busy}
        describedBy="vault-checksum-hint"
        testId="vault-checksum"
      >
        Compare what the vault already holds by sha256
      </Checkbox>
      <p id="vault-checksum-hint" className="muted">
        Off: files of the same size and modification time count as identical without being read. On: every
        file of an artifact the vault already holds is read in full on both sides and compared by sha256;
        slower, and a difference stops the sync as a conflict (nothing is overwritten).
      </p>
      {error && <ErrorNotice error={error} title="The vault job did not start" />}
      {[preview, sync, verify].map((j) =>
        j && !j.outcome?.ok && j.outcome ? (
          <ErrorNotice key={j.id} error={j.outcome.error} title="The vault job failed" testId="vault-error" />
        ) : null,
      )}
      {jobs.sync && sync && sync.outcome === null && (
        <ProgressPanel jobId={jobs.sync} title="Syncing to the vault" />
      )}
      {jobs.verify && verify && verify.outcome === null && (
        <ProgressPanel jobId={jobs.verify} title="Verifying the vault" />
      )}
      {plan && !synced && (
        <div data-testid="vault-plan">
          <h3>
            {toCopy.length === 0
              ? 'The vault already holds everything.'
              : `Would copy ${toCopy.length} artifact${toCopy.length === 1 ? '' : 's'} (${formatBytes(plan.bytes)}), ${formatBytes(plan.freeBytes)} free`}
          </h3>
          <ul>
            {toCopy.map((i) => (
              <li key={i.name} data-testid={`vault-plan-${i.name}`}>
                <strong>{i.name}</strong> <PhaseBadge phase={i.phase} />{' '}
                <span className="muted">
                  {i.files} files, {formatBytes(i.bytes)}
                </span>
              </li>
            ))}
          </ul>
        </div>
      )}
      {synced && (
        <p className="notice notice-ok" data-testid="vault-sync-done">
          Copied {synced.copied} artifact{synced.copied === 1 ? '' : 's'} ({formatBytes(synced.bytes)}) to{' '}
          {synced.to}, each verified by reading back; {synced.identical} already there.
        </p>
      )}
      {verified && (
        <div data-testid="vault-verify-result">
          <h3>
            {verified.ok ? 'The vault checks out.' : `${verified.damaged} damaged artifact(s) in the vault.`}
          </h3>
          <DataTable
            label="The vault's artifacts, checked"
            rows={verified.artifacts}
            columns={CHECKED_COLUMNS}
            rowKey={(a) => a.name}
            rowProps={(a) => ({ 'data-testid': `vault-verify-${a.name}`, 'data-status': a.status })}
            empty="The vault holds no golden images or clone folders."
          />
        </div>
      )}
    </section>
  );
}
