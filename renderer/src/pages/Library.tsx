import { useEffect } from 'react';
import { libraryRows, useLibrary, whereLabel } from '../stores/library';
import { useSettings } from '../stores/settings';
import { useJob } from '../stores/jobs';
import { PathField } from '../components/PathField';
import { ErrorNotice } from '../components/ErrorNotice';
import { VaultPanel } from '../components/VaultPanel';
import { RemoteFolders } from '../components/RemoteFolders';
import { JobLogPanel } from '../components/JobLogPanel';
import { DeploymentsPanel } from '../components/DeploymentsPanel';
import { formatBytes, formatDate } from '../format';
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
        {listing && listing.entries.length === 0 && (
          <p className="empty">Nothing here yet. Insert builds golden images; Clone saves clone folders.</p>
        )}
        {listing && listing.entries.length > 0 && (
          <table className="table" data-testid="library-table">
            <thead>
              <tr>
                <th>Name</th>
                <th>Phase</th>
                <th>Tag</th>
                <th>Date</th>
                <th>Size</th>
                <th>Where</th>
                <th>
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {libraryRows(listing.entries).map(({ entry, copies }) => (
                <Row key={entry.path} entry={entry} copies={copies} />
              ))}
            </tbody>
          </table>
        )}
      </section>
      <JobLogPanel />
      <DeploymentsPanel />
    </div>
  );
}

/** A Library row leads on: a golden image to Flash, a clone folder to Restore, chosen there. */
function use(entry: LibraryEntry): void {
  if (entry.kind === 'golden-image') void useFlash.getState().chooseImage(entry.path);
  else void useRestore.getState().setFolder(entry.path);
  useNav.getState().go(entry.kind === 'golden-image' ? 'flash' : 'restore');
}

function Row({ entry, copies }: { entry: LibraryEntry; copies: LibraryEntry[] }) {
  const state = useLibrary((s) => s.verifying[entry.path]);
  const verify = useLibrary((s) => s.verify);
  const showInFolder = useLibrary((s) => s.showInFolder);
  const showError = useLibrary((s) => s.showErrors[entry.path] ?? null);
  const job = useJob(state?.jobId ?? null, 'verify');
  const running = job !== null && job.outcome === null;
  const where = whereLabel(copies);
  let status: React.ReactNode = null;
  if (showError)
    status = (
      <span className="badge badge-block" title={showError.message}>
        {showError.message}
      </span>
    );
  else if (state?.error)
    status = (
      <span className="badge badge-block" title={state.error.message}>
        {state.error.message}
      </span>
    );
  else if (running) status = <span className="badge">Verifying…</span>;
  else if (job?.outcome?.ok) {
    status = (
      <span className="badge badge-ok" title={`${job.outcome.value.checked} checks passed`}>
        Verified
      </span>
    );
  } else if (job?.outcome && !job.outcome.ok)
    status = (
      <span className="badge badge-block" title={job.outcome.error.message}>
        {job.outcome.error.message}
      </span>
    );
  return (
    <tr data-testid={`library-row-${entry.name}`}>
      <td>
        <strong>{entry.name}</strong>
        {!entry.hasManifest && <span className="muted"> (no manifest)</span>}
        <Lineage entry={entry} />
      </td>
      <td>
        <span className={`phase phase-${entry.phase}`}>Phase {entry.phase}</span>
      </td>
      <td>{entry.tag ?? '—'}</td>
      <td>{formatDate(entry.created)}</td>
      <td>{formatBytes(entry.size)}</td>
      <td title={copies.map((c) => c.path).join('\n')} data-testid={`library-where-${entry.name}`}>
        {where}
      </td>
      <td className="cell-actions">
        {status}
        <button
          type="button"
          className="button button-small"
          onClick={() => use(entry)}
          aria-label={`${entry.kind === 'golden-image' ? 'Flash' : 'Restore'} ${entry.name}`}
          data-testid={`library-use-${entry.name}`}
        >
          {entry.kind === 'golden-image' ? 'Flash' : 'Restore'}
        </button>
        <button
          type="button"
          className="button button-small"
          disabled={running}
          onClick={() => void verify(entry.path)}
          aria-label={`Verify ${entry.name}${copies.length > 1 ? ' (the build folder copy)' : ''}`}
          data-testid={`library-verify-${entry.name}`}
        >
          Verify
        </button>
        <button
          type="button"
          className="button button-small"
          onClick={() => void showInFolder(entry.path)}
          aria-label={`Show ${entry.name} in its folder`}
          data-testid={`library-show-${entry.name}`}
        >
          Show in folder
        </button>
      </td>
    </tr>
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
