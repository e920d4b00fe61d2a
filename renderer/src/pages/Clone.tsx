import { useClone } from '../stores/clone';
import { useDrives } from '../stores/drives';
import { useSettings } from '../stores/settings';
import { useJob } from '../stores/jobs';
import { DrivePicker } from '../components/DrivePicker';
import { MainAction } from '../components/MainAction';
import { PathField } from '../components/PathField';
import { ErrorNotice } from '../components/ErrorNotice';
import { ProgressPanel } from '../components/ProgressPanel';
import { cloneFolderName, formatBytes, isValidTag, TAG_RULE } from '../format';
import type { CloneResult, Drive } from '../../../main/contract';
import { againLabel } from '../components/againLabel';
import { useRestore } from '../stores/restore';
import { useNav } from '../stores/nav';
import { Checkbox } from '../components/Checkbox';

/** The Phase rule refused a card that never booted: the safety net's override, asked for explicitly. */
function PhaseOverride({ source }: { source: Drive | null }) {
  const c = useClone();
  return (
    <section className="card" data-testid="clone-override">
      <Checkbox
        checked={c.allowUnbooted}
        onChange={c.setAllowUnbooted}
        testId="clone-allow-unbooted"
        describedBy="clone-allow-unbooted-hint"
      >
        Clone anyway (safety net)
      </Checkbox>
      <p id="clone-allow-unbooted-hint" className="muted">
        Keeps a copy of this card as it is. The clone is marked as never booted: it is not a provisioned Phase
        1 image to deploy.
      </p>
      <div className="actions actions-start">
        <button
          type="button"
          className="button"
          disabled={!c.allowUnbooted || !source}
          onClick={() => source && void c.start(source)}
          data-testid="clone-anyway"
        >
          Clone anyway
        </button>
      </div>
    </section>
  );
}

/** Clone's result leads on: restore it to a card, or copy it to the vault now. */
function CloneNext({ result }: { result: CloneResult }) {
  const c = useClone();
  const archive = useJob(c.archiveJobId, 'vault-sync');
  const name = result.folder.split('/').pop()!;
  const restore = () => {
    void useRestore.getState().setFolder(result.folder);
    useNav.getState().go('restore');
  };
  const synced = archive?.outcome?.ok ? archive.outcome.value : null;
  return (
    <>
      <div className="actions actions-start">
        <button type="button" className="button button-primary" onClick={restore} data-testid="clone-restore">
          Restore this clone to a card
        </button>
        <button
          type="button"
          className="button"
          disabled={c.archiveJobId !== null && !archive?.outcome}
          onClick={() => void c.archive(name)}
          data-testid="clone-archive"
        >
          Copy it to the vault
        </button>
      </div>
      {c.archiveJobId && !archive?.outcome && (
        <ProgressPanel jobId={c.archiveJobId} title={`Copying ${name} to the vault`} />
      )}
      {synced && (
        <p className="notice notice-ok" role="status" data-testid="clone-archived">
          {synced.copied > 0 ? `Copied to the vault: ${synced.to}` : `The vault already holds ${name}.`}
        </p>
      )}
      {archive?.outcome && !archive.outcome.ok && (
        <ErrorNotice
          error={archive.outcome.error}
          title="Not copied to the vault"
          testId="clone-archive-error"
        />
      )}
      {c.archiveError && (
        <ErrorNotice error={c.archiveError} title="Not copied to the vault" testId="clone-archive-error" />
      )}
    </>
  );
}

export function ClonePage() {
  const c = useClone();
  const drives = useDrives((s) => s.drives);
  const buildFolder = useSettings((s) => s.settings?.buildFolder ?? '');
  const job = useJob(c.jobId, 'clone');
  const source = drives.find((d) => d.device === c.source) ?? null;
  const folder = c.outDir ?? buildFolder;

  let body: React.ReactNode;
  if (c.jobId && job?.outcome) {
    body = (
      <>
        {job.outcome.ok ? (
          <CloneDone result={job.outcome.value} />
        ) : (
          <ErrorNotice error={job.outcome.error} title="Clone failed" testId="clone-error" />
        )}
        {!job.outcome.ok && job.outcome.error.code === 'PHASE_RULE' && <PhaseOverride source={source} />}
        {job.outcome.ok && <CloneNext result={job.outcome.value as CloneResult} />}
        <div className="actions">
          <button
            type="button"
            className={`button${job.outcome.ok ? '' : ' button-primary'}`}
            onClick={c.reset}
            data-testid="clone-again"
          >
            {againLabel(job.outcome, 'Clone another card', 'Clone again')}
          </button>
        </div>
      </>
    );
  } else if (c.jobId) {
    body = <ProgressPanel jobId={c.jobId} title={`Cloning ${source?.description ?? c.source ?? ''}`} />;
  } else {
    body = (
      <>
        <section className="card">
          <h2>1. Source card</h2>
          <p className="muted">The card of a configured dev device. It is only read, never written.</p>
          <DrivePicker
            mode="single"
            use="read"
            selected={c.source ? [c.source] : []}
            onSelect={c.choose}
            label="Card to clone"
            testId="clone-card"
          />
        </section>
        <section className="card">
          <h2>2. Tag and folder</h2>
          <label className="field">
            <span className="field-label">Tag</span>
            <input
              value={c.tag}
              onChange={(e) => c.setTag(e.target.value.trim())}
              placeholder="v8-1-0-FEATURE"
              data-testid="clone-tag"
              aria-describedby="clone-tag-rule"
            />
          </label>
          <p id="clone-tag-rule" className={c.tag && !isValidTag(c.tag) ? 'field-error' : 'muted'}>
            {TAG_RULE}
          </p>
          <PathField
            kind="folder"
            purpose="output"
            label="Folder"
            value={folder}
            onChange={c.setOutDir}
            testId="clone-folder"
          />
          <div className="preview">
            <span className="field-label">Output</span>
            <strong data-testid="clone-output-name">
              {isValidTag(c.tag) ? `${cloneFolderName(c.tag)}/` : 'golden-clone-TAG/'}
            </strong>
          </div>
        </section>
        {c.startError && (
          <ErrorNotice error={c.startError} title="Clone could not start" testId="clone-error" />
        )}
        <MainAction
          label="Clone card"
          reason={
            !source ? 'Choose the card to clone.' : !isValidTag(c.tag) ? 'Enter a tag for the clone.' : null
          }
          onClick={() => source && void c.start(source)}
          testId="clone-start"
        />
      </>
    );
  }
  return (
    <div className="page" data-testid="page-clone">
      <header className="page-header">
        <h1>Clone · Phase 1</h1>
        <p className="muted">
          Snapshot a provisioned card into golden-clone-TAG/: partition table + partclone images of the used
          blocks, restorable here or with restore_golden.sh.
        </p>
      </header>
      {body}
    </div>
  );
}

function CloneDone({ result }: { result: CloneResult }) {
  return (
    <section className="card result result-ok" data-testid="clone-done" role="status">
      <h2>Clone saved</h2>
      <p>
        <strong>{result.folder.split('/').pop()}</strong>
        <span className="path-dir">{result.folder}</span>
      </p>
      <p className="muted">
        Tag {result.tag} · {formatBytes(result.totalBytes)} · {new Date(result.created).toLocaleString()}
      </p>
      <p className="muted" data-testid="clone-lineage">
        {result.parent
          ? `From ${result.parent}${result.unbooted ? ', never booted: kept as a safety net' : ''}`
          : 'Lineage unknown: this card was not made by Insert.'}
      </p>
      <table className="table">
        <thead>
          <tr>
            <th>File</th>
            <th>Role</th>
            <th>Filesystem</th>
            <th>Used</th>
          </tr>
        </thead>
        <tbody>
          {result.partitions.map((p) => (
            <tr key={p.file}>
              <td>
                <code>{p.file}</code>
              </td>
              <td>{p.role}</td>
              <td>{p.filesystem}</td>
              <td>{formatBytes(p.usedBytes)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
