import { useFlash } from '../stores/flash';
import { useDrives } from '../stores/drives';
import { useJob } from '../stores/jobs';
import { driveStatus } from '../components/DriveList';
import { DrivePicker } from '../components/DrivePicker';
import { MainAction } from '../components/MainAction';
import { PathField } from '../components/PathField';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { ErrorNotice } from '../components/ErrorNotice';
import { ProgressPanel } from '../components/ProgressPanel';
import { formatBytes, formatCardSize } from '../format';
import type { Drive, FlashResult, ImageInfo } from '../../../main/contract';
import { CardResults } from '../components/CardResults';
import { Checkbox } from '../components/Checkbox';
import { againLabel } from '../components/againLabel';
import { RemovedCards } from '../components/RemovedCards';

export function FlashPage() {
  const f = useFlash();
  const drives = useDrives((s) => s.drives);
  const job = useJob(f.jobId, 'flash');
  // a card that vanished or became unusable drops out of the selection
  const usable = f.selected.filter((device) => {
    const drive = drives.find((d) => d.device === device);
    return drive && driveStatus(drive, 'write', f.image).blocks.length === 0;
  });

  if (f.jobId && job?.outcome) {
    return (
      <Page>
        {job.outcome.ok ? (
          <FlashDone result={job.outcome.value} drives={f.confirmed} />
        ) : (
          <ErrorNotice
            error={job.outcome.error}
            title="Flash failed"
            testId="flash-error"
            drives={f.confirmed}
          />
        )}
        <div className="actions">
          <button
            type="button"
            className="button button-primary"
            onClick={() => (job.outcome!.ok ? f.reset(true) : f.retry())}
            data-testid="flash-again"
          >
            {againLabel(job.outcome, 'Flash another card', 'Flash again')}
          </button>
          <button type="button" className="button" onClick={() => f.reset(false)}>
            Start over
          </button>
        </div>
      </Page>
    );
  }
  if (f.jobId) {
    return (
      <Page>
        <ProgressPanel
          jobId={f.jobId}
          drives={f.confirmed}
          title={`Flashing ${f.image?.name ?? ''} to ${f.confirmed.length} card${f.confirmed.length === 1 ? '' : 's'}`}
        />
      </Page>
    );
  }
  return (
    <Page>
      <section className="card">
        <h2>1. Image</h2>
        <PathField
          kind="file"
          purpose="image"
          label="Image to write"
          value={f.image?.path ?? ''}
          onChange={(path) => void f.chooseImage(path)}
          testId="flash-image"
          droppable
        />
        {f.image && (
          <p className="muted" data-testid="flash-image-info">
            {imageSizeText(f.image)}
          </p>
        )}
        {f.imageError && (
          <ErrorNotice error={f.imageError} title="This image cannot be used" testId="flash-image-error" />
        )}
      </section>
      <section className="card">
        <h2>2. Cards</h2>
        <DrivePicker
          mode="multi"
          use="write"
          selected={f.selected}
          onSelect={f.toggle}
          image={f.image}
          label="Cards to write"
          testId="flash-cards"
        />
      </section>
      <section className="card">
        <h2>3. Flash</h2>
        <Checkbox checked={f.verify} onChange={f.setVerify} testId="flash-verify">
          Verify after writing (recommended)
        </Checkbox>
        {!f.verify && (
          <p className="notice notice-warn" data-testid="skip-verify-note">
            Skipping verification saves the time of reading every card back, but a faulty card or reader that
            stored wrong data will go unnoticed until the kiosk fails to boot.
          </p>
        )}
        {f.image?.format === 'img' && (
          <Checkbox checked={f.usedBlocksOnly} onChange={f.setUsedBlocksOnly} testId="flash-used-only">
            Write only the used blocks (faster)
          </Checkbox>
        )}
        {f.image?.format === 'img' && f.usedBlocksOnly && (
          <p className="notice notice-warn" data-testid="used-only-note">
            Only the partition table and the blocks the image&apos;s filesystems use are written (and
            verified). The free space on the card keeps whatever it held before: fine for a kiosk, but not a
            byte-for-byte copy of the image.
          </p>
        )}
        {f.startError && (
          <ErrorNotice error={f.startError} title="Flash could not start" testId="flash-error" />
        )}
      </section>
      <MainAction
        label={usable.length > 1 ? `Flash ${usable.length} cards…` : 'Flash…'}
        reason={!f.image ? 'Choose an image first.' : usable.length === 0 ? 'Choose a card to write.' : null}
        onClick={() => f.openConfirm(drives.filter((d) => usable.includes(d.device)))}
        testId="flash-start"
      />
      {f.confirming && (
        <ConfirmDialog
          title={
            f.confirmed.length === 0
              ? 'No card left to write'
              : `Erase and write ${f.confirmed.length === 1 ? 'this card' : `these ${f.confirmed.length} cards`}?`
          }
          confirmLabel="Erase and flash"
          onConfirm={() => void f.start()}
          onCancel={f.closeConfirm}
          confirmDisabled={f.confirmed.length === 0}
        >
          <p>
            Everything on {f.confirmed.length === 1 ? 'this card' : 'these cards'} will be replaced by{' '}
            <strong>{f.image?.name}</strong>:
          </p>
          <ul className="confirm-list" data-testid="confirm-targets">
            {f.confirmed.map((d) => (
              <li key={d.device}>
                <strong>{d.description || d.device}</strong> — {d.device}, {formatCardSize(d.size)}
                {d.serial ? `, S/N ${d.serial}` : ''}
                {d.large && <span className="badge badge-warn">Large drive: is this really an SD card?</span>}
              </li>
            ))}
          </ul>
          <RemovedCards removed={f.removed} />
          {!f.verify && <p className="muted">Verification is off.</p>}
          {f.image?.format === 'img' && f.usedBlocksOnly && (
            <p className="muted">Only the used blocks will be written.</p>
          )}
        </ConfirmDialog>
      )}
    </Page>
  );
}

/** The image's size as a person reads it: what the card must hold, and how sure we are of it. */
function imageSizeText(image: ImageInfo): string {
  if (image.format === 'img') return `Raw image, ${formatBytes(image.fileSize)}`;
  const packed = `Compressed (.${image.format}), ${formatBytes(image.fileSize)}`;
  if (image.imageSize === null)
    return `${packed}; its unpacked size is not recorded, so each card's room is checked as it is written`;
  return image.sizeExact
    ? `${packed}; unpacks to ${formatBytes(image.imageSize)}`
    : `${packed}; unpacks to at least ${formatBytes(image.imageSize)}`;
}

function Page({ children }: { children: React.ReactNode }) {
  return (
    <div className="page" data-testid="page-flash">
      <header className="page-header">
        <h1>Flash</h1>
        <p className="muted">Write an image to one or several SD cards, then read them back to prove it.</p>
      </header>
      {children}
    </div>
  );
}

function FlashDone({ result, drives }: { result: FlashResult; drives: readonly Drive[] }) {
  const failed = result.targets.filter((t) => !t.ok);
  return (
    <section
      className={`card result ${failed.length ? 'result-partial' : 'result-ok'}`}
      data-testid="flash-done"
      role="status"
    >
      <h2>
        {failed.length === 0
          ? result.verified
            ? 'Flashed and verified'
            : 'Flashed (not verified)'
          : `${result.targets.length - failed.length} of ${result.targets.length} cards flashed`}
      </h2>
      <p>
        {result.image.split('/').pop()} — {formatBytes(result.bytesWritten)} written to each card
      </p>
      <CardResults
        cards={result.targets}
        drives={drives}
        seconds={result.seconds}
        bytesPerCard={result.bytesWritten}
        rateSeconds={result.writeSeconds}
        sha256={result.sha256}
        testId="flash-results"
      />
    </section>
  );
}
