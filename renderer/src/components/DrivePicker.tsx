import { useState } from 'react';
import type { ImageInfo } from '../../../main/contract';
import { useDrives } from '../stores/drives';
import { formatCardSize } from '../format';
import { DriveList } from './DriveList';

interface Props {
  mode: 'multi' | 'single';
  use: 'read' | 'write';
  selected: string[];
  onSelect(device: string): void;
  image?: Pick<ImageInfo, 'path' | 'imageSize'> | null;
  /** the list's legend, and the picker's accessible name */
  label: string;
  testId: string;
}

/**
 * The card picker as a dropdown (Etcher's "Select target"): one line naming the chosen card(s), opening onto the
 * live card list with its badges and reasons. Open while nothing is chosen; a single choice closes it, several
 * cards are ticked in turn and "Done" closes it.
 */
export function DrivePicker({ mode, use, selected, onSelect, image, label, testId }: Props) {
  const drives = useDrives((s) => s.drives);
  const [open, setOpen] = useState<boolean | null>(null);
  const expanded = open ?? selected.length === 0;
  const chosen = drives.filter((d) => selected.includes(d.device));
  const listId = `${testId}-list`;

  let summary: React.ReactNode;
  if (chosen.length === 0) {
    summary = (
      <span className="muted">{mode === 'multi' ? 'Choose one or several cards' : 'Choose a card'}</span>
    );
  } else if (chosen.length === 1) {
    const d = chosen[0]!;
    summary = (
      <span>
        <strong>{d.description || d.device}</strong>{' '}
        <span className="muted">
          {formatCardSize(d.size)}
          {d.bus ? ` · ${d.bus}` : ''}
          {d.serial ? ` · S/N ${d.serial}` : ''}
        </span>
      </span>
    );
  } else {
    summary = (
      <span>
        <strong>{chosen.length} cards</strong>{' '}
        <span className="muted">{chosen.map((d) => d.description || d.device).join(', ')}</span>
      </span>
    );
  }

  return (
    <div className="drive-picker">
      <button
        type="button"
        className="drive-picker-toggle"
        aria-expanded={expanded}
        aria-controls={listId}
        aria-label={`${label}: ${chosen.length === 0 ? 'none chosen' : chosen.map((d) => d.description || d.device).join(', ')}`}
        onClick={() => setOpen(!expanded)}
        data-testid={testId}
      >
        {summary}
        <span className="drive-picker-caret" aria-hidden="true">
          {expanded ? '▴' : '▾'}
        </span>
      </button>
      {expanded && (
        <div
          id={listId}
          className="drive-picker-list"
          onKeyDown={(e) => {
            if (e.key === 'Escape' && selected.length > 0) setOpen(false);
          }}
        >
          <DriveList
            mode={mode}
            use={use}
            selected={selected}
            onSelect={(device) => {
              onSelect(device);
              // one card: chosen, closed; several: stays open for the next tick until Done
              setOpen(mode === 'multi');
            }}
            image={image ?? null}
            label={label}
          />
          {mode === 'multi' && (
            <div className="actions">
              <span className="muted">Tick several cards to write them all at once.</span>
              <button
                type="button"
                className="button"
                disabled={selected.length === 0}
                onClick={() => setOpen(false)}
                data-testid={`${testId}-done`}
              >
                Done
              </button>
            </div>
          )}
        </div>
      )}
    </div>
  );
}
