import { useEffect, useMemo } from 'react';
import { confirmedNames, effectiveIntent, useRestore } from '../stores/restore';
import { useDrives } from '../stores/drives';
import { useJob, useJobs } from '../stores/jobs';
import { driveStatus } from '../components/DriveList';
import { DrivePicker } from '../components/DrivePicker';
import { MainAction } from '../components/MainAction';
import { PathField } from '../components/PathField';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { ErrorNotice } from '../components/ErrorNotice';
import { ProgressPanel } from '../components/ProgressPanel';
import { CardResults } from '../components/CardResults';
import { CloneChooser } from '../components/CloneChooser';
import { DeployOptions, hostnameProblem } from '../components/DeployOptions';
import { CardChecks } from '../components/CardChecks';
import { formatBytes, formatCardSize } from '../format';
import type { Drive, RestoreResult, VerifyResult } from '../../../main/contract';
import { INTENT_NAMES } from '../../../main/shared/restore-intents';
import { givenHostnames } from '../../../main/shared/hostnames';
import { useDeployments } from '../stores/deployments';
import { Checkbox } from '../components/Checkbox';
import { againLabel } from '../components/againLabel';
import { RemovedCards } from '../components/RemovedCards';

export function RestorePage() {
  const r = useRestore();
  const drives = useDrives((s) => s.drives);
  const verifyJob = useJob(r.verifyJobId, 'verify');
  const job = useJob(r.jobId, 'restore');
  const verified = verifyJob?.outcome?.ok === true;
  const need = r.info ? { path: r.folder, imageSize: r.info.neededBytes } : null;
  // the chosen cards that are still there and still usable, in the order chosen
  const cards = r.selected
    .map((device) => drives.find((d) => d.device === device))
    .filter((d): d is Drive => d !== undefined && driveStatus(d, 'write', need).blocks.length === 0);
  const intent = effectiveIntent(r.chosenIntent, cards.length);
  // the record's hostnames: a deploy numbers on from them, as main does when it starts the job
  const records = useDeployments((s) => s.records);
  const recordsError = useDeployments((s) => s.error);
  const watchDeployments = useDeployments((s) => s.watch);
  useEffect(() => watchDeployments(), [watchDeployments]);
  const given = useMemo(() => givenHostnames(records ?? []), [records]);
  const cloneName = r.folder.split('/').pop() ?? '';
  // cards a check found fake: still the person's choice, but said beside the button that writes them
  const jobs = useJobs((s) => s.jobs);
  const fakes = cards.filter((c) => {
    const id = r.checks[c.device]?.jobId;
    const outcome = id ? jobs[id]?.outcome : null;
    return outcome?.ok === true && outcome.kind === 'check-card' && outcome.value.verdict === 'fake';
  });

  let body: React.ReactNode;
  if (r.jobId && job?.outcome) {
    body = (
      <>
        {job.outcome.ok ? (
          <RestoreDone result={job.outcome.value} drives={r.confirmed} />
        ) : (
          <ErrorNotice
            error={job.outcome.error}
            title="Restore failed"
            testId="restore-error"
            drives={r.confirmed}
          />
        )}
        <div className="actions">
          <button
            type="button"
            className="button button-primary"
            onClick={job.outcome.ok ? r.reset : r.retry}
            data-testid="restore-again"
          >
            {againLabel(job.outcome, 'Restore more cards', 'Restore again')}
          </button>
        </div>
      </>
    );
  } else if (r.jobId) {
    body = (
      <ProgressPanel
        jobId={r.jobId}
        drives={r.confirmed}
        title={
          r.confirmed.length === 1
            ? `Restoring ${cloneName} to ${r.confirmed[0]!.description || r.confirmed[0]!.device}`
            : `${r.confirmedIntent === 'deploy' ? 'Deploying' : 'Restoring'} ${cloneName} to ${r.confirmed.length} cards`
        }
      />
    );
  } else {
    // a deploy's names number on from the record: none is shown, nor started, before it is read
    const patternProblem =
      intent !== 'deploy'
        ? null
        : records === null
          ? recordsError
            ? `The deployment record cannot be read, so the hostnames cannot be numbered: ${recordsError.message}`
            : 'Reading the deployment record…'
          : hostnameProblem(r.hostnamePattern, cards, given);
    body = (
      <>
        <section className="card">
          <h2>1. Clone</h2>
          <CloneChooser value={r.folder} onChoose={(f) => void r.setFolder(f)} testId="restore-clones" />
          <PathField
            kind="folder"
            purpose="clone-folder"
            label="Or another golden-clone folder"
            value={r.folder}
            onChange={(folder) => void r.setFolder(folder)}
            testId="restore-folder"
            droppable
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
            Checks every file&apos;s hash and every partclone checksum before anything is written. No card
            needed.
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
          <h2>3. Cards</h2>
          {!verified && <p className="muted">Verify the folder first.</p>}
          {verified && (
            <DrivePicker
              mode="multi"
              use="write"
              testId="restore-card"
              selected={r.selected}
              onSelect={r.toggle}
              image={need}
              label="Cards to write"
            />
          )}
          <DeployOptions
            intent={intent}
            onIntent={r.setIntent}
            pattern={r.hostnamePattern}
            onPattern={r.setHostnamePattern}
            cards={cards}
            given={given}
            disabled={!verified}
          />
          <Checkbox checked={r.grow} onChange={r.setGrow} disabled={!verified} testId="restore-grow">
            Grow the root partition to fill each card
          </Checkbox>
          {verified && cards.length > 0 && (
            <CardChecks
              cards={cards}
              checks={r.checks}
              onCheck={() => void r.checkCards(cards)}
              disabled={false}
            />
          )}
        </section>
        {r.startError && (
          <ErrorNotice error={r.startError} title="Restore could not start" testId="restore-error" />
        )}
        <MainAction
          label={
            cards.length > 1
              ? `${intent === 'deploy' ? 'Deploy to' : 'Restore'} ${cards.length} cards…`
              : intent === 'deploy'
                ? 'Deploy…'
                : 'Restore…'
          }
          reason={
            !r.folder
              ? 'Choose a clone first.'
              : !verified
                ? 'Verify the folder first.'
                : cards.length === 0
                  ? 'Choose the cards to write.'
                  : patternProblem
          }
          onClick={() => r.openConfirm(cards, given)}
          testId="restore-start"
        >
          {fakes.length > 0 && (
            <p className="notice notice-warn" data-testid="restore-fake-warning">
              {fakes.map((c) => c.description || c.device).join(', ')}{' '}
              {fakes.length === 1 ? 'is a fake card' : 'are fake cards'}: untick{' '}
              {fakes.length === 1 ? 'it' : 'them'} before writing.
            </p>
          )}
        </MainAction>
        {r.confirming && (
          <ConfirmDialog
            title={
              r.confirmed.length === 0
                ? 'No card left to write'
                : `Erase and restore ${r.confirmed.length === 1 ? 'this card' : `these ${r.confirmed.length} cards`}?`
            }
            confirmLabel={r.confirmedIntent === 'deploy' ? 'Erase and deploy' : 'Erase and restore'}
            onConfirm={() => void r.start()}
            onCancel={r.closeConfirm}
            confirmDisabled={r.confirmed.length === 0}
          >
            <p>
              Everything on {r.confirmed.length === 1 ? 'this card' : 'these cards'} will be replaced by{' '}
              <strong>{cloneName}</strong> ({INTENT_NAMES[r.confirmedIntent].toLowerCase()}):
            </p>
            <ul className="confirm-list" data-testid="confirm-targets">
              {r.confirmed.map((d, i) => (
                <li key={d.device}>
                  <strong>{d.description || d.device}</strong> — {d.device}, {formatCardSize(d.size)}
                  {d.serial ? `, S/N ${d.serial}` : ''}
                  {r.confirmedIntent === 'deploy' && (
                    <>
                      {' '}
                      → <code>{confirmedNames(r)[i]}</code>
                    </>
                  )}
                  {d.large && (
                    <span className="badge badge-warn">Large drive: is this really an SD card?</span>
                  )}
                </li>
              ))}
            </ul>
            <RemovedCards removed={r.removed} />
            <p className="muted">
              {r.grow ? 'Root will grow to fill each card.' : 'Root keeps its original size.'}
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
          Write a Phase 1 clone back to one card to roll a device back, or to many cards to deploy new
          devices.
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

function RestoreDone({ result, drives }: { result: RestoreResult; drives: readonly Drive[] }) {
  const failed = result.targets.filter((t) => !t.ok);
  const total = result.targets.length;
  const details = Object.fromEntries(
    result.targets.map((t) => [
      t.device,
      <div key={t.device} className="muted" data-testid={`restore-card-${t.device}`}>
        {/* a card that failed was not given its hostname (its identity is re-armed only after it verified) */}
        {t.ok && t.hostname && (
          <div>
            Hostname <code data-testid={`restore-card-${t.device}-hostname`}>{t.hostname}</code>
          </div>
        )}
        {t.identityChanges.length > 0 && (
          <ul className="identity-changes" data-testid={`restore-card-${t.device}-changes`}>
            {t.identityChanges.map((change) => (
              <li key={change}>{change}</li>
            ))}
          </ul>
        )}
        {t.ok && (
          <div>{t.growNote ?? (t.grown ? 'Root was grown to fill the card.' : 'Root kept its size.')}</div>
        )}
      </div>,
    ]),
  );
  const cardBytes = Math.max(0, ...result.targets.map((t) => t.bytesWritten));
  return (
    <section
      className={`card result ${failed.length ? 'result-partial' : 'result-ok'}`}
      data-testid="restore-done"
      role="status"
    >
      <h2>
        {failed.length === 0
          ? result.intent === 'deploy'
            ? `Deployed to ${total} card${total === 1 ? '' : 's'}`
            : total === 1
              ? 'Card restored'
              : `${total} cards restored`
          : `${total - failed.length} of ${total} cards restored`}
      </h2>
      <p>
        {result.folder.split('/').pop()} — {INTENT_NAMES[result.intent]}
      </p>
      <CardResults
        cards={result.targets}
        drives={drives}
        seconds={result.seconds}
        bytesPerCard={cardBytes}
        rateSeconds={result.writeSeconds}
        sha256={result.manifestSha256}
        checksumLabel="Clone manifest (SHA-256)"
        noChecksum="The clone has no manifest"
        details={details}
        testId="restore-results"
      />
      {result.recordProblem && (
        <p className="notice notice-warn" data-testid="restore-record-problem">
          {result.recordProblem}
        </p>
      )}
    </section>
  );
}
