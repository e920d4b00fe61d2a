import { allProblems, fieldProblem, insertProblems, useInsert, type InsertFile } from '../stores/insert';
import { Checkbox } from '../components/Checkbox';
import { useSettings } from '../stores/settings';
import { useJob } from '../stores/jobs';
import { PathField } from '../components/PathField';
import { ErrorNotice } from '../components/ErrorNotice';
import { ProgressPanel } from '../components/ProgressPanel';
import { goldenImageName, isValidTag, parseGoldenNumber, TAG_RULE } from '../format';
import type { InsertResult } from '../../../main/contract';
import { againLabel } from '../components/againLabel';
import { MainAction } from '../components/MainAction';
import { useFlash } from '../stores/flash';
import { useNav } from '../stores/nav';

/** Insert's result leads on: the new golden image, chosen on the Flash page. */
function flashImage(path: string): void {
  void useFlash.getState().chooseImage(path);
  useNav.getState().go('flash');
}

/** The three Atlas files: each is its store key, its picker purpose and its test id's suffix. */
const ATLAS_FILES: ReadonlyArray<{ file: Exclude<InsertFile, 'base'>; label: string }> = [
  { file: 'firstboot', label: 'atlas_firstboot.sh' },
  { file: 'service', label: 'atlas-firstboot.service' },
  { file: 'secrets', label: 'atlas_secrets.conf' },
];

const NUMBER_FIELDS: ReadonlyArray<{ field: 'version' | 'patch'; label: string; placeholder: string }> = [
  { field: 'version', label: 'Version N', placeholder: '8' },
  { field: 'patch', label: 'Patch P', placeholder: '0' },
];

export function InsertPage() {
  const s = useInsert();
  const buildFolder = useSettings((st) => st.settings?.buildFolder ?? '');
  const job = useJob(s.jobId, 'insert');
  const problems = insertProblems(s);
  const checked = allProblems(s);
  const output = fieldProblem(checked, 'output');
  // previewed only when every part passes the rule main checks again (main/shared/names)
  const version = parseGoldenNumber(s.version);
  const patch = parseGoldenNumber(s.patch);
  const name =
    version !== null && patch !== null && isValidTag(s.tag) ? goldenImageName(version, patch, s.tag) : null;

  let body: React.ReactNode;
  if (s.jobId && job?.outcome) {
    const built = job.outcome.ok ? (job.outcome.value as InsertResult) : null;
    body = (
      <>
        {job.outcome.ok ? (
          <InsertDone result={job.outcome.value} />
        ) : (
          <ErrorNotice error={job.outcome.error} title="Insert failed" testId="insert-error" />
        )}
        <div className="actions">
          {built && (
            <button
              type="button"
              className="button button-primary"
              onClick={() => flashImage(built.output)}
              data-testid="insert-flash"
            >
              Flash this image
            </button>
          )}
          <button
            type="button"
            className={`button${job.outcome.ok ? '' : ' button-primary'}`}
            onClick={s.reset}
            data-testid="insert-again"
          >
            {againLabel(job.outcome, 'Back to the inputs', 'Back to the inputs')}
          </button>
        </div>
      </>
    );
  } else if (s.jobId) {
    body = <ProgressPanel jobId={s.jobId} title={`Building ${name ?? 'the golden image'}`} />;
  } else {
    body = (
      <>
        <section className="card">
          <h2>1. Base image</h2>
          <PathField
            kind="file"
            purpose="base-image"
            label="Base Armbian image (.img, .img.xz, .img.gz, .zip)"
            value={s.files.base}
            onChange={(p) => s.setFile('base', p)}
            testId="insert-base"
            droppable
            problem={fieldProblem(checked, 'base')}
            status={s.checkingBase ? 'Checking the image…' : null}
          />
          <p className="muted">
            A fresh Armbian image for the Raspberry Pi 4B. Golden images and clones are refused.
          </p>
        </section>
        <section className="card">
          <h2>2. The three files</h2>
          {ATLAS_FILES.map(({ file, label }) => (
            <PathField
              key={file}
              kind="file"
              purpose={file}
              label={label}
              value={s.files[file]}
              onChange={(p) => s.setFile(file, p)}
              testId={`insert-${file}`}
              droppable
              problem={fieldProblem(checked, file)}
            />
          ))}
          <p className="muted">
            The secrets file is copied into the image with mode 0600; its content is never shown or logged.
          </p>
        </section>
        <section className="card">
          <h2>3. Version and tag</h2>
          <div className="field-row">
            {NUMBER_FIELDS.map(({ field, label, placeholder }) => (
              <label key={field} className="field">
                <span className="field-label">{label}</span>
                <input
                  inputMode="numeric"
                  value={s[field]}
                  onChange={(e) => s.setField(field, e.target.value.trim())}
                  aria-invalid={s[field] !== '' && parseGoldenNumber(s[field]) === null ? true : undefined}
                  data-testid={`insert-${field}`}
                  placeholder={placeholder}
                />
              </label>
            ))}
            <label className="field field-grow">
              <span className="field-label">Tag</span>
              <input
                value={s.tag}
                onChange={(e) => s.setField('tag', e.target.value.trim())}
                data-testid="insert-tag"
                placeholder="FLASH"
                aria-invalid={(s.tag !== '' && !isValidTag(s.tag)) || output !== null ? true : undefined}
                aria-describedby={output ? 'tag-rule insert-output-problem' : 'tag-rule'}
              />
            </label>
          </div>
          <p id="tag-rule" className={s.tag && !isValidTag(s.tag) ? 'field-error' : 'muted'}>
            {TAG_RULE}
          </p>
          <div className="preview" data-testid="insert-preview">
            <span className="field-label">Output</span>
            {name ? (
              <span>
                <strong data-testid="insert-output-name">{name}</strong> in {buildFolder}
              </span>
            ) : (
              <span className="muted">
                ods-atlas-golden-vN-P-TAG.img — fill in the version, patch and tag
              </span>
            )}
          </div>
          {output && (
            <p id="insert-output-problem" className="field-error" data-testid="insert-output-problem">
              {output.message}
            </p>
          )}
          {(s.replace || output?.code === 'ALREADY_EXISTS') && (
            <Checkbox checked={s.replace} onChange={s.setReplace} testId="insert-replace">
              Replace the existing golden image of this name (its manifest too)
            </Checkbox>
          )}
        </section>
        {s.startError && (
          <ErrorNotice error={s.startError} title="Insert could not start" testId="insert-error" />
        )}
        <MainAction
          label="Build golden image"
          reason={problems[0] ?? null}
          onClick={() => void s.start()}
          testId="insert-start"
        />
      </>
    );
  }
  return (
    <div className="page" data-testid="page-insert">
      <header className="page-header">
        <h1>Insert · Phase 0</h1>
        <p className="muted">
          Base Armbian image + the Atlas firstboot files → a golden image. Written into the image directly,
          nothing is mounted.
        </p>
      </header>
      {body}
    </div>
  );
}

function InsertDone({ result }: { result: InsertResult }) {
  return (
    <section className="card result result-ok" data-testid="insert-done" role="status">
      <h2>Golden image built</h2>
      <p>
        <strong data-testid="insert-done-output">{result.output.split('/').pop()}</strong>
        <span className="path-dir">{result.output}</span>
      </p>
      <dl className="facts">
        <dt>Version</dt>
        <dd>
          v{result.version}-{result.patch}, tag {result.tag}
        </dd>
        <dt>Base image</dt>
        <dd>
          {result.baseImage} <code className="hash">sha256 {result.baseSha256.slice(0, 16)}…</code>
        </dd>
        <dt>Manifest</dt>
        <dd>{result.manifestPath}</dd>
      </dl>
      <table className="table" data-testid="insert-manifest">
        <thead>
          <tr>
            <th>Written to</th>
            <th>Mode</th>
            <th>sha256</th>
          </tr>
        </thead>
        <tbody>
          {result.files.map((f) => (
            <tr key={f.destination}>
              <td>
                <code>{f.destination}</code>
              </td>
              <td>{f.mode}</td>
              <td>
                {f.sha256 ? (
                  <code className="hash">{f.sha256.slice(0, 16)}…</code>
                ) : f.hmacSha256 ? (
                  <code className="hash" title="HMAC-SHA256 keyed by the build folder's .atlas-secrets-key">
                    HMAC {f.hmacSha256.slice(0, 16)}…
                  </code>
                ) : (
                  <span className="muted">—</span>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <p className="muted">Every file was read back from the image and compared.</p>
    </section>
  );
}
