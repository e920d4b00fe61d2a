import { useState } from 'react';
import type { ErrorDTO, FilePurpose, FolderPurpose } from '../../../main/contract';
import { call, pathForFile, toErrorDTO } from '../api';
import { ErrorNotice } from './ErrorNotice';

type Props = {
  label: string;
  value: string;
  onChange(path: string): void;
  testId: string;
  hint?: string;
  /** accept a file dropped from the desktop */
  droppable?: boolean;
  /** what is wrong with the chosen path (an error marks the field invalid; a warning only informs) */
  problem?: { severity: 'error' | 'warning'; code?: string | null; message: string } | null;
  /** what is being done with the chosen path ("Checking the image…"), said politely to a screen reader */
  status?: string | null;
} & ({ kind: 'file'; purpose: FilePurpose } | { kind: 'folder'; purpose: FolderPurpose });

/** A path chosen with the native picker (or dropped): shows the path, never the file's content. */
export function PathField(props: Props) {
  const { label, value, onChange, testId, hint, droppable, problem, status } = props;
  const problemId = `${testId}-problem`;
  const [over, setOver] = useState(false);
  // the dialog can be refused (no dialog in this build, a bad request): say so beside the button
  const [error, setError] = useState<ErrorDTO | null>(null);
  const choose = async (): Promise<void> => {
    try {
      setError(null);
      const path =
        props.kind === 'file'
          ? await call('dialog:open-file', { purpose: props.purpose })
          : await call('dialog:open-folder', { purpose: props.purpose });
      if (path) onChange(path);
    } catch (e) {
      setError(toErrorDTO(e));
    }
  };
  const name = value ? value.split('/').filter(Boolean).pop() : '';
  return (
    <div
      className={`path-field${over ? ' path-field-over' : ''}${problem?.severity === 'error' ? ' path-field-invalid' : ''}`}
      data-testid={testId}
      role="group"
      aria-label={label}
      aria-invalid={problem?.severity === 'error' ? true : undefined}
      aria-describedby={problem ? problemId : undefined}
      aria-busy={status ? true : undefined}
      onDragOver={
        droppable
          ? (e) => {
              e.preventDefault();
              setOver(true);
            }
          : undefined
      }
      onDragLeave={droppable ? () => setOver(false) : undefined}
      onDrop={
        droppable
          ? (e) => {
              e.preventDefault();
              setOver(false);
              const file = e.dataTransfer.files[0];
              const path = file ? pathForFile(file) : '';
              if (path) onChange(path);
            }
          : undefined
      }
    >
      <div className="path-field-text">
        <span className="field-label">{label}</span>
        {value ? (
          <span className="path-value" title={value} data-testid={`${testId}-value`}>
            <strong>{name}</strong>
            <span className="path-dir">{value}</span>
          </span>
        ) : (
          <span className="muted">
            {hint ?? (droppable ? 'Not chosen — drop a file here or choose one' : 'Not chosen')}
          </span>
        )}
      </div>
      <button
        type="button"
        className="button"
        onClick={() => void choose()}
        // each field's button has its own name for a screen reader: "Choose Image to write"
        aria-label={`${value ? 'Change' : 'Choose'} ${label}`}
        aria-describedby={problem ? problemId : undefined}
        data-testid={`${testId}-choose`}
      >
        {value ? 'Change…' : 'Choose…'}
      </button>
      {status && (
        <p className="muted path-field-problem" role="status" data-testid={`${testId}-status`}>
          {status}
        </p>
      )}
      {problem && (
        <p
          id={problemId}
          className={
            problem.severity === 'error'
              ? 'field-error path-field-problem'
              : 'notice notice-warn path-field-problem'
          }
          data-testid={problemId}
          data-severity={problem.severity}
          data-code={problem.code ?? undefined}
        >
          {problem.message}
        </p>
      )}
      {error && <ErrorNotice error={error} title="The dialog could not open" testId={`${testId}-error`} />}
    </div>
  );
}
