import { useEffect } from 'react';
import { libraryRows, useLibrary, whereLabel, type LibraryRow } from '../stores/library';
import { useSettings } from '../stores/settings';
import { useJob } from '../stores/jobs';
import { PathField } from '../components/PathField';
import { ErrorNotice } from '../components/ErrorNotice';
import { VaultPanel } from '../components/VaultPanel';
import { RemoteFolders } from '../components/RemoteFolders';
import { JobLogPanel } from '../components/JobLogPanel';
import { DeploymentsPanel } from '../components/DeploymentsPanel';
import { DataTable, RowActions, type Column } from '../components/DataTable';
import { artifactColumns } from '../components/artifacts';
import type { LibraryEntry } from '../../../main/contract';
import { useFlash } from '../stores/flash';
import { useRestore } from '../stores/restore';
import { useNav } from '../stores/nav';

export function LibraryPage() {
  const { listing, loading, error, load } = useLibrary();
  const settings = useSettings((s) => s.settings);
  const update = useSettings((s) => s.update);
  const settingsError = useSettings((s) => s.error);
  useEffect(() => {
    void load();
  }, [load, settings?.buildFolder, settings?.vaultFolder]);

  return (
    <div className="page" data-testid="page-library">
      <header className="page-header">
        <h1>Library</h1>
        <p className="muted">
          Golden images (Phase 0) and clone folders (Phase 1) in the build folder and the vault.
        </p>
      </header>
      <section className="card">
        <h2>Folders</h2>
        <PathField
          kind="folder"
          purpose="build"
          label="Build folder"
          value={settings?.buildFolder ?? ''}
          onChange={(p) => void update({ buildFolder: p })}
          testId="settings-build"
        />
        <PathField
          kind="folder"
          purpose="vault"
          label="Vault (permanent archive)"
          value={settings?.vaultFolder ?? ''}
          onChange={(p) => void update({ vaultFolder: p })}
          testId="settings-vault"
        />
        {settingsError && <ErrorNotice error={settingsError} title="The setting was not saved" />}
      </section>
      <VaultPanel />
      <RemoteFolders />
      <section className="card">
        <div className="card-header">
          <h2>Images and clones</h2>
          <button
            type="button"
            className="button"
            onClick={() => void load()}
            disabled={loading}
            data-testid="library-refresh"
          >
            {loading ? 'Refreshing…' : 'Refresh'}
          </button>
        </div>
        {error && <ErrorNotice error={error} title="The library could not be read" />}
        {listing?.unavailable.map((u) => (
          <p key={u.path} className="notice notice-warn" data-testid={`library-unavailable-${u.location}`}>
            {u.location === 'vault' ? 'Vault' : 'Build folder'} {u.path} {u.reason}.
          </p>
        ))}
        <DataTable
          label="Images and clones"
          rows={listing ? libraryRows(listing.entries) : null}
          columns={COLUMNS}
          rowKey={(r) => r.entry.path}
          rowProps={(r) => ({ 'data-testid': `library-row-${r.entry.name}` })}
          actions={(r) => <Actions entry={r.entry} copies={r.copies} />}
          empty="Nothing here yet. Insert builds golden images; Clone saves clone folders."
          testId="library-table"
        />
      </section>
      <JobLogPanel />
      <DeploymentsPanel />
    </div>
  );
}

/** A Library row leads on: a golden image to Flash, a clone folder to Restore, chosen there. */
function takeTo(entry: LibraryEntry): void {
  if (entry.kind === 'golden-image') void useFlash.getState().chooseImage(entry.path);
  else void useRestore.getState().setFolder(entry.path);
  useNav.getState().go(entry.kind === 'golden-image' ? 'flash' : 'restore');
}

const COLUMNS: Array<Column<LibraryRow>> = [
  ...artifactColumns<LibraryRow>(
    (r) => r.entry,
    (r) => <Lineage entry={r.entry} />,
  ),
  {
    header: 'Where',
    cell: (r) => whereLabel(r.copies),
    cellProps: (r) => ({
      title: r.copies.map((c) => c.path).join('\n'),
      'data-testid': `library-where-${r.entry.name}`,
    }),
  },
];

/** A row's status (its verify job, a failed show) and its actions, with the row's own state. */
function Actions({ entry, copies }: LibraryRow) {
  const state = useLibrary((s) => s.verifying[entry.path]);
  const verify = useLibrary((s) => s.verify);
  const showInFolder = useLibrary((s) => s.showInFolder);
  const showError = useLibrary((s) => s.showErrors[entry.path] ?? null);
  const job = useJob(state?.jobId ?? null, 'verify');
  const running = job !== null && job.outcome === null;
  const failed = showError ?? state?.error ?? (job?.outcome && !job.outcome.ok ? job.outcome.error : null);
  const status = failed ? (
    <span className="badge badge-block" title={failed.message}>
      {failed.message}
    </span>
  ) : running ? (
    <span className="badge">Verifying…</span>
  ) : job?.outcome?.ok ? (
    <span className="badge badge-ok" title={`${job.outcome.value.checked} checks passed`}>
      Verified
    </span>
  ) : null;
  return (
    <RowActions
      row={entry.name}
      actions={[
        {
          label: entry.kind === 'golden-image' ? 'Flash' : 'Restore',
          onClick: () => takeTo(entry),
          testId: `library-use-${entry.name}`,
        },
        {
          label: 'Verify',
          name: `Verify ${entry.name}${copies.length > 1 ? ' (the build folder copy)' : ''}`,
          disabled: running,
          onClick: () => void verify(entry.path),
          testId: `library-verify-${entry.name}`,
        },
        {
          label: 'Show in folder',
          name: `Show ${entry.name} in its folder`,
          onClick: () => void showInFolder(entry.path),
          testId: `library-show-${entry.name}`,
        },
      ]}
    >
      {status}
    </RowActions>
  );
}

/** One line of lineage: the golden image a clone descends from, or a golden image's clones. */
function Lineage({ entry }: { entry: LibraryEntry }) {
  const text = entry.parent
    ? `from ${entry.parent}${entry.unbooted ? ' · never booted, kept as a safety net' : ''}`
    : entry.clones?.length
      ? `cloned as ${entry.clones.join(', ')}`
      : null;
  return text ? (
    <div className="muted" data-testid={`library-lineage-${entry.name}`}>
      {text}
    </div>
  ) : null;
}
