import type { Drive, ImageInfo } from '../../../main/contract';
import { isHiddenDrive, useDrives } from '../stores/drives';
import { formatCardSize } from '../format';
import { ErrorNotice } from './ErrorNotice';
import { Checkbox } from './Checkbox';
import { driveReasons, REASON_LABELS, type DriveUse } from '../../../main/shared/targets';

export interface DriveStatus {
  /** reasons the drive cannot be chosen */
  blocks: string[];
  /** reasons to look twice (confirmed in the dialog) */
  warnings: string[];
}

/**
 * The target rules (main/shared/targets.ts) as badges next to each drive; main and the helper apply the same
 * rules again before writing. `use` is 'write' for flash and restore targets, 'read' for a clone source.
 */
export function driveStatus(drive: Drive, use: DriveUse, image?: ImageInfo | null): DriveStatus {
  const reasons = driveReasons(drive, use, { imageSize: image?.imageSize, sourcePath: image?.path });
  const label = (level: 'error' | 'warning'): string[] => [
    ...new Set(reasons.filter((r) => r.level === level).map((r) => REASON_LABELS[r.code])),
  ];
  return { blocks: label('error'), warnings: label('warning') };
}

interface Props {
  mode: 'multi' | 'single';
  use: DriveUse;
  selected: string[];
  onSelect(device: string): void;
  image?: ImageInfo | null;
  label: string;
}

/** The live drive list: checkboxes (several cards) or radio buttons (one card), with hidden disks behind "show all". */
export function DriveList({ mode, use, selected, onSelect, image, label }: Props) {
  const drives = useDrives((s) => s.drives);
  const loaded = useDrives((s) => s.loaded);
  const error = useDrives((s) => s.error);
  const showAll = useDrives((s) => s.showAll);
  const setShowAll = useDrives((s) => s.setShowAll);
  const hiddenCount = drives.filter(isHiddenDrive).length;
  const visible = showAll ? drives : drives.filter((d) => !isHiddenDrive(d));

  if (error)
    return <ErrorNotice error={error} title="The drive list is not available" testId="drives-error" />;
  return (
    <fieldset className="drive-list" data-testid="drive-list">
      <legend className="field-label">{label}</legend>
      {!loaded && <p className="muted">Looking for drives…</p>}
      {loaded && visible.length === 0 && (
        <p className="empty" data-testid="no-drives">
          No SD card found. Insert a card into the reader; it appears here within a few seconds.
        </p>
      )}
      <ul>
        {visible.map((drive) => {
          const status = driveStatus(drive, use, image);
          const disabled = status.blocks.length > 0;
          const checked = selected.includes(drive.device);
          const id = `drive-${drive.device.replace(/[^a-z0-9]/gi, '-')}`;
          return (
            <li
              key={drive.device}
              className={`drive${checked ? ' drive-selected' : ''}${disabled ? ' drive-disabled' : ''}`}
            >
              <input
                id={id}
                type={mode === 'multi' ? 'checkbox' : 'radio'}
                name={`drives-${label}`}
                checked={checked}
                disabled={disabled}
                onChange={() => onSelect(drive.device)}
                data-testid={`drive-option-${drive.device}`}
              />
              <label htmlFor={id}>
                <span className="drive-name">{drive.description || drive.device}</span>
                <span className="drive-meta">
                  {drive.device} · {formatCardSize(drive.size)}
                  {drive.bus ? ` · ${drive.bus}` : ''}
                  {drive.serial ? ` · S/N ${drive.serial}` : ''}
                  {drive.mountpoints.length > 0 ? ` · mounted at ${drive.mountpoints.join(', ')}` : ''}
                </span>
                <span className="badges">
                  {status.blocks.map((b) => (
                    <span key={b} className="badge badge-block">
                      {b}
                    </span>
                  ))}
                  {status.warnings.map((w) => (
                    <span key={w} className="badge badge-warn">
                      {w}
                    </span>
                  ))}
                </span>
              </label>
            </li>
          );
        })}
      </ul>
      {hiddenCount > 0 && (
        <Checkbox checked={showAll} onChange={setShowAll} testId="show-all-drives">
          Show all drives ({hiddenCount} system or virtual {hiddenCount === 1 ? 'disk' : 'disks'} hidden)
        </Checkbox>
      )}
    </fieldset>
  );
}
