import { useRestore } from '../stores/restore';
import { useDrives } from '../stores/drives';
import { useJob } from '../stores/jobs';
import { DrivePicker } from '../components/DrivePicker';
import { MainAction } from '../components/MainAction';
import { PathField } from '../components/PathField';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { ErrorNotice } from '../components/ErrorNotice';
import { ProgressPanel } from '../components/ProgressPanel';
import { formatBytes, formatCardSize } from '../format';
import type { RestoreResult, VerifyResult } from '../../../main/contract';
import { Checkbox } from '../components/Checkbox';
import { againLabel } from '../components/againLabel';

export function RestorePage() {
  const r = useRestore();
  const drives = useDrives((s) => s.drives);
  const verifyJob = useJob(r.verifyJobId, 'verify');
  const job = useJob(r.jobId, 'restore');
  const verified = verifyJob?.outcome?.ok === true;
  const target = drives.find((d) => d.device === r.target) ?? null;

  let body: React.ReactNode;
  if (r.jobId && job?.outcome) {
    body = (
      <>
        {job.outcome.ok ? (
          <RestoreDone result={job.outcome.value} />
        ) : (
          <ErrorNotice error={job.outcome.error} title="Restore failed" testId="restore-error" />
        )}
        <div className="actions">
          <button
            type="button"
            className="button button-primary"
            onClick={job.outcome.ok ? r.reset : r.retry}
            data-testid="restore-again"
          >
            {againLabel(job.outcome, 'Restore another card', 'Restore again')}
          </button>
        </div>
      </>
    );
  } else if (r.jobId) {
    body = (
      <ProgressPanel
        jobId={r.jobId}
        title={`Restoring to ${r.confirmed?.description ?? r.confirmed?.device ?? ''}`}
      />
    );
  } else {
    body = (
      <>
        <section className="card">
          <h2>1. Clone folder</h2>
          <PathField
            kind="folder"
            purpose="clone-folder"
            label="golden-clone-TAG folder"
            value={r.folder}
            onChange={(folder) => void r.setFolder(folder)}
            testId="restore-folder"
          />
          {r.info && (
            <p className="muted" data-testid="restore-folder-info">
              Needs a card of at least {formatBytes(r.info.neededBytes)}
              {r.info.sourceBytes !== null
                ? ` (cloned from a ${formatCardSize(r.info.sourceBytes)} card)`
                : ''}
            </p>
          )}
          {r.folderError && (
            <ErrorNotice
              error={r.folderError}
              title="This folder cannot be restored"
              testId="restore-folder-error"
            />
          )}
        </section>
        <section className="card">
          <h2>2. Verify first</h2>
          <p className="muted">
            Checks every file's hash and every partclone checksum before anything is written. No card needed.
          </p>
          {r.verifyJobId && !verifyJob?.outcome && (
            <ProgressPanel jobId={r.verifyJobId} title="Verifying the folder" />
          )}
          {verifyJob?.outcome && !verifyJob.outcome.ok && (
            <ErrorNotice
              error={verifyJob.outcome.error}
              title="Verification failed"
              testId="restore-verify-error"
            />
          )}
          {verifyJob?.outcome?.ok && <VerifySummary result={verifyJob.outcome.value} />}
          <div className="actions">
            <button
              type="button"
              className="button"
              disabled={!r.folder || (r.verifyJobId !== null && !verifyJob?.outcome)}
              onClick={() => void r.verify()}
              data-testid="restore-verify"
            >
              {verifyJob?.outcome ? 'Verify again' : 'Verify folder'}
            </button>
          </div>
        </section>
        <section className={`card${verified ? '' : ' card-locked'}`} aria-disabled={!verified}>
          <h2>3. Target card</h2>
          {!verified && <p className="muted">Verify the folder first.</p>}
          {verified && (
            <DrivePicker
              mode="single"
              use="write"
              testId="restore-card"
              selected={r.target ? [r.target] : []}
              onSelect={r.choose}
              image={r.info ? { path: r.folder, imageSize: r.info.neededBytes } : null}
              label="Card to write"
            />
          )}
          <Checkbox checked={r.grow} onChange={r.setGrow} disabled={!verified} testId="restore-grow">
            Grow the root partition to fill the card
          </Checkbox>
        </section>
        {r.startError && (
          <ErrorNotice error={r.startError} title="Restore could not start" testId="restore-error" />
        )}
        <MainAction
          label="Restore…"
          reason={
            !r.folder
              ? 'Choose a clone folder first.'
              : !verified
                ? 'Verify the folder first.'
                : !target
                  ? 'Choose the card to write.'
                  : null
          }
          onClick={() => target && r.openConfirm(target)}
          testId="restore-start"
        />
        {r.confirming && r.confirmed && (
          <ConfirmDialog
            title="Erase and restore this card?"
            confirmLabel="Erase and restore"
            onConfirm={() => void r.start()}
            onCancel={r.closeConfirm}
            confirmDisabled={r.confirmedGone}
          >
            {r.confirmedGone && (
              <p className="notice notice-warn" data-testid="confirm-removed" aria-live="polite">
                The card was removed: nothing will be written. Cancel, insert it and choose it again.
              </p>
            )}
            <p>
              Everything on <strong>{r.confirmed.description || r.confirmed.device}</strong> (
              {r.confirmed.device}, {formatCardSize(r.confirmed.size)}
              {r.confirmed.serial ? `, S/N ${r.confirmed.serial}` : ''}) will be replaced by{' '}
              <strong>{r.folder.split('/').pop()}</strong>.
            </p>
            <p className="muted">
              {r.grow ? 'Root will grow to fill the card.' : 'Root keeps its original size.'}
            </p>
          </ConfirmDialog>
        )}
      </>
    );
  }
  return (
    <div className="page" data-testid="page-restore">
      <header className="page-header">
        <h1>Restore</h1>
        <p className="muted">
          Write a Phase 1 clone folder (ours, or one real partclone made) back to a card.
        </p>
      </header>
      {body}
    </div>
  );
}

function VerifySummary({ result }: { result: VerifyResult }) {
  return (
    <div className="notice notice-ok" role="status" data-testid="restore-verify-result">
      <strong>Verified: {result.checked} checks passed</strong>
    </div>
  );
}

function RestoreDone({ result }: { result: RestoreResult }) {
  return (
    <section className="card result result-ok" data-testid="restore-done" role="status">
      <h2>Card restored</h2>
      {result.targets.map((t) => (
        <div key={t.device}>
          <p>
            {result.folder.split('/').pop()} → {t.device}
          </p>
          <p>
            {t.growNote ?? (t.grown ? 'Root was grown to fill the card.' : 'Root kept its original size.')}
          </p>
        </div>
      ))}
    </section>
  );
}
