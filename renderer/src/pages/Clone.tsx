import { useClone } from '../stores/clone';
import { useDrives } from '../stores/drives';
import { useSettings } from '../stores/settings';
import { useJob } from '../stores/jobs';
import { DriveList } from '../components/DriveList';
import { PathField } from '../components/PathField';
import { ErrorNotice } from '../components/ErrorNotice';
import { ProgressPanel } from '../components/ProgressPanel';
import { cloneFolderName, formatBytes, isValidTag, TAG_RULE } from '../format';
import type { CloneResult } from '../../../main/contract';

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
        <div className="actions">
          <button type="button" className="button button-primary" onClick={c.reset}>
            Clone another card
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
          <DriveList
            mode="single"
            use="read"
            selected={c.source ? [c.source] : []}
            onSelect={c.choose}
            label="Card to clone"
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
        <div className="actions">
          <button
            type="button"
            className="button button-primary"
            disabled={!source || !isValidTag(c.tag)}
            onClick={() => source && void c.start(source)}
            data-testid="clone-start"
          >
            Clone card
          </button>
        </div>
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
