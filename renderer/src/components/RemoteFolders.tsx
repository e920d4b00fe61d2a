/**
 * The Library page's remote build folders (a build box reached with ssh): the folders kept in settings, each one's
 * golden images and clone folders with whether the vault holds them, and a pull into the vault — everything or one
 * artifact — that runs as a vault sync job (copied as partials, verified, resumable, never overwriting).
 */
import { useEffect, useState } from 'react';
import type { ErrorDTO, RemoteEntry, VaultHolding } from '../../../main/contract';
import { parseRemoteFolder, REMOTE_FOLDER_RULE } from '../../../main/shared/remote-folders';
import { toErrorDTO } from '../api';
import { startJob, useJob } from '../stores/jobs';
import { useLibrary } from '../stores/library';
import { EMPTY_VIEW, useRemote } from '../stores/remote';
import { useSettings } from '../stores/settings';
import { formatBytes } from '../format';
import { artifactColumns } from './artifacts';
import { DataTable, RowActions, type Column } from './DataTable';
import { ErrorNotice } from './ErrorNotice';
import { ProgressPanel } from './ProgressPanel';

const HOLDING: Record<VaultHolding, [string, string]> = {
  held: ['in the vault', 'badge-ok'],
  missing: ['not in the vault', 'badge-warn'],
  differs: ['other content in the vault', 'badge-block'],
  unknown: ['vault not available', 'badge-warn'],
};

const COLUMNS: Array<Column<RemoteEntry>> = [
  ...artifactColumns<RemoteEntry>((e) => e),
  {
    header: 'Vault',
    cell: (e) => <span className={`badge ${HOLDING[e.inVault][1]}`}>{HOLDING[e.inVault][0]}</span>,
  },
];

export function RemoteFolders() {
  const settings = useSettings((s) => s.settings);
  const update = useSettings((s) => s.update);
  const [draft, setDraft] = useState('');
  const folders = settings?.remoteFolders ?? [];
  const parsed = draft.trim() === '' ? null : parseRemoteFolder(draft.trim());
  const draftError = parsed && 'error' in parsed ? parsed.error : null;

  return (
    <section className="card" data-testid="remote-folders">
      <h2>Remote build folders</h2>
      <p className="muted">
        Build folders on another machine, reached with your SSH setup (its host names, keys and known hosts).
        Atlas Imager never asks for nor stores a password.
      </p>
      {folders.map((folder) => (
        <RemoteFolder
          key={folder}
          folder={folder}
          onRemove={() => void update({ remoteFolders: folders.filter((f) => f !== folder) })}
        />
      ))}
      <form
        className="row"
        onSubmit={(event) => {
          event.preventDefault();
          if (!parsed || draftError) return;
          void update({ remoteFolders: [...folders, draft.trim()] }).then(() => setDraft(''));
        }}
      >
        <label htmlFor="remote-folder-input">Add a remote build folder</label>
        <input
          id="remote-folder-input"
          type="text"
          placeholder="ssh://build-box/~/atlas-build"
          value={draft}
          onChange={(e) => setDraft(e.target.value)}
          aria-invalid={draftError !== null}
          aria-describedby="remote-folder-rule"
          data-testid="remote-folder-input"
        />
        <button
          type="submit"
          className="button"
          disabled={!parsed || draftError !== null}
          data-testid="remote-folder-add"
        >
          Add
        </button>
      </form>
      <p id="remote-folder-rule" className={draftError ? 'notice notice-warn' : 'muted'}>
        {draftError ?? REMOTE_FOLDER_RULE}
      </p>
    </section>
  );
}

function RemoteFolder({ folder, onRemove }: { folder: string; onRemove: () => void }) {
  const { listing, loading, error: listError } = useRemote((s) => s.folders[folder] ?? EMPTY_VIEW);
  const list = useRemote((s) => s.list);
  const [error, setError] = useState<ErrorDTO | null>(null);
  const [jobId, setJobId] = useState<string | null>(null);
  const job = useJob(jobId, 'vault-sync');
  const reloadLibrary = useLibrary((s) => s.load);
  const running = job !== null && job.outcome === null;
  const pulled = job?.outcome?.ok ? job.outcome.value : null;

  const pull = async (items?: string[]): Promise<void> => {
    setError(null);
    try {
      setJobId(await startJob('vault:sync', { from: folder, ...(items ? { items } : {}) }));
    } catch (e) {
      setError(toErrorDTO(e));
    }
  };

  // once a pull ends, the vault changed: both listings say so
  const finished = job?.outcome ?? null;
  useEffect(() => {
    if (finished) {
      void list(folder);
      void reloadLibrary();
    }
  }, [finished, folder, list, reloadLibrary]);

  const missing = listing?.entries.filter((e) => e.inVault === 'missing') ?? [];
  return (
    <div className="remote-folder" data-testid={`remote-folder-${folder}`}>
      <div className="card-header">
        <h3>{folder}</h3>
        <div className="actions">
          <button
            type="button"
            className="button"
            onClick={() => void list(folder)}
            disabled={loading}
            aria-label={`${listing ? 'Refresh' : 'Show contents of'} ${folder}`}
          >
            {listing ? 'Refresh' : 'Show contents'}
          </button>
          <button
            type="button"
            className="button button-primary"
            onClick={() => void pull()}
            disabled={running || (listing !== null && missing.length === 0)}
            aria-label={`Pull into the vault from ${folder}`}
            data-testid="remote-pull-all"
          >
            Pull into the vault
          </button>
          <button
            type="button"
            className="button"
            onClick={onRemove}
            disabled={running}
            aria-label={`Remove ${folder}`}
          >
            Remove
          </button>
        </div>
      </div>
      {(listError ?? error) && (
        <ErrorNotice
          error={(listError ?? error)!}
          title={listError ? 'The remote folder could not be listed' : 'The pull did not start'}
          testId="remote-error"
        />
      )}
      {job?.outcome && !job.outcome.ok && (
        <ErrorNotice error={job.outcome.error} title="The pull failed" testId="remote-pull-error" />
      )}
      {jobId && running && <ProgressPanel jobId={jobId} title={`Pulling from ${folder}`} />}
      {pulled && (
        <p className="notice notice-ok" data-testid="remote-pull-done">
          Copied {pulled.copied} artifact{pulled.copied === 1 ? '' : 's'} ({formatBytes(pulled.bytes)}) into{' '}
          {pulled.to}, each checked against its manifest or the build box’s checksum; {pulled.identical}{' '}
          already there.
        </p>
      )}
      <DataTable
        label={`Golden images and clone folders in ${folder}`}
        rows={listing?.entries}
        columns={COLUMNS}
        rowKey={(e) => e.name}
        rowProps={(e) => ({ 'data-testid': `remote-row-${e.name}`, 'data-in-vault': e.inVault })}
        actions={(e) => (
          <RowActions
            row={e.name}
            actions={[
              e.inVault === 'missing' && {
                label: 'Pull',
                // the same artifact can sit on two build boxes: the name says which one
                name: `Pull ${e.name} from ${folder}`,
                disabled: running,
                onClick: () => void pull([e.name]),
              },
            ]}
          />
        )}
        empty="No golden images or clone folders there."
        testId="remote-table"
      />
    </div>
  );
}
