/**
 * The clone to restore, chosen as Raspberry Pi Imager chooses an OS: a list of the Library's clone folders (build
 * folder and vault), newest first, each with its tag, date, size and where it lives. A folder elsewhere is
 * picked or dropped in the field below the list.
 */
import { useEffect } from 'react';
import type { LibraryEntry } from '../../../main/contract';
import { useLibrary } from '../stores/library';
import { formatBytes, formatDate } from '../format';
import { ErrorNotice } from './ErrorNotice';

const WHERE: Record<LibraryEntry['location'], string> = { build: 'Build folder', vault: 'Vault' };

export function CloneChooser({
  value,
  onChoose,
  testId,
}: {
  value: string;
  onChoose(folder: string): void;
  testId: string;
}) {
  const { listing, error, load } = useLibrary();
  useEffect(() => {
    void load();
  }, [load]);
  const clones = (listing?.entries ?? [])
    .filter((e) => e.kind === 'clone-folder')
    .sort((a, b) => b.created.localeCompare(a.created));

  return (
    <fieldset className="clone-chooser" data-testid={testId}>
      <legend className="field-label">Clones in the Library</legend>
      {error && <ErrorNotice error={error} title="The Library could not be read" />}
      {listing && clones.length === 0 && (
        <p className="empty" data-testid={`${testId}-empty`}>
          No clone in the build folder or the vault yet. Clone a card first, or choose a folder below.
        </p>
      )}
      <ul>
        {clones.map((c) => {
          const id = `clone-${c.location}-${c.name}`.replace(/[^a-z0-9-]/gi, '-');
          return (
            <li key={c.path} className={`clone-option${value === c.path ? ' drive-selected' : ''}`}>
              <input
                id={id}
                type="radio"
                name="restore-clone"
                checked={value === c.path}
                onChange={() => onChoose(c.path)}
                data-testid={`${testId}-option`}
                data-path={c.path}
              />
              <label htmlFor={id}>
                <span className="drive-name">{c.tag ?? c.name}</span>
                <span className="drive-meta">
                  {c.name} · {formatDate(c.created)} · {formatBytes(c.size)}
                </span>
                <span className="badges">
                  <span className="badge">{WHERE[c.location]}</span>
                  {!c.hasManifest && <span className="badge badge-warn">No manifest</span>}
                </span>
              </label>
            </li>
          );
        })}
      </ul>
    </fieldset>
  );
}
