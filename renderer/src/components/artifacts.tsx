/**
 * How the app shows a golden image or clone folder wherever it lists one (the Library, a remote build folder, the
 * vault): its phase badge, and the columns the Library's tables share.
 */
import type { ReactNode } from 'react';
import type { LibraryEntry } from '../../../main/contract';
import { formatBytes, formatDate } from '../format';
import type { Column } from './DataTable';

export function PhaseBadge({ phase }: { phase: 0 | 1 }) {
  return <span className={`phase phase-${phase}`}>Phase {phase}</span>;
}

/** What the shared columns read of an artifact (a Library entry, a remote one). */
export type ArtifactFacts = Pick<LibraryEntry, 'name' | 'phase' | 'tag' | 'created' | 'size' | 'hasManifest'>;

/** Name, Phase, Tag, Date and Size of the artifact `of(row)`; `below` adds a line under its name. */
export function artifactColumns<R>(
  of: (row: R) => ArtifactFacts,
  below?: (row: R) => ReactNode,
): Array<Column<R>> {
  return [
    {
      header: 'Name',
      cell: (row) => (
        <>
          <strong>{of(row).name}</strong>
          {!of(row).hasManifest && <span className="muted"> (no manifest)</span>}
          {below?.(row)}
        </>
      ),
    },
    { header: 'Phase', cell: (row) => <PhaseBadge phase={of(row).phase} /> },
    { header: 'Tag', cell: (row) => of(row).tag ?? '—' },
    { header: 'Date', cell: (row) => formatDate(of(row).created) },
    { header: 'Size', cell: (row) => formatBytes(of(row).size) },
  ];
}
