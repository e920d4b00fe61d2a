/**
 * The one table of the app's lists (the Library's images and clones, a remote folder's contents, the vault check,
 * the deployments, the job log). It names itself for screen readers (a caption; the section's heading shows the
 * same words), gives every column header its scope and each row a header (its first cell), says so when there is
 * nothing to list, and names every row action for its row, so that two rows' "Verify" never share a name.
 */
import type { ReactNode, TdHTMLAttributes } from 'react';

/** Attributes of one cell, for a title or a test id. */
export type CellProps = TdHTMLAttributes<HTMLTableCellElement> & { 'data-testid'?: string };

export interface Column<R> {
  header: string;
  cell: (row: R) => ReactNode;
  cellProps?: (row: R) => CellProps;
}

export interface DataTableProps<R> {
  /** what the table lists, as a screen reader announces it */
  label: string;
  /** null or undefined: not known yet, and nothing is shown */
  rows: readonly R[] | null | undefined;
  /** the first column heads each row */
  columns: ReadonlyArray<Column<R>>;
  rowKey: (row: R, index: number) => string;
  /** what is said when there are no rows */
  empty: ReactNode;
  /** the row's own attributes (a test id, a data-* state the tests read) */
  rowProps?: (row: R) => Record<`data-${string}`, string>;
  /** the row's actions, a RowActions; without it, the table has no actions column */
  actions?: (row: R) => ReactNode;
  testId?: string;
  className?: string;
}

export function DataTable<R>({
  label,
  rows,
  columns,
  rowKey,
  empty,
  rowProps,
  actions,
  testId,
  className,
}: DataTableProps<R>) {
  if (!rows) return null;
  if (rows.length === 0) return <p className="empty">{empty}</p>;
  const [head, ...rest] = columns;
  return (
    <table className={className ? `table ${className}` : 'table'} data-testid={testId}>
      <caption className="visually-hidden">{label}</caption>
      <thead>
        <tr>
          {columns.map((c) => (
            <th key={c.header} scope="col">
              {c.header}
            </th>
          ))}
          {actions && (
            <th scope="col">
              <span className="visually-hidden">Actions</span>
            </th>
          )}
        </tr>
      </thead>
      <tbody>
        {rows.map((row, i) => (
          <tr key={rowKey(row, i)} {...rowProps?.(row)}>
            {head && (
              <th scope="row" {...head.cellProps?.(row)}>
                {head.cell(row)}
              </th>
            )}
            {rest.map((c) => (
              <td key={c.header} {...c.cellProps?.(row)}>
                {c.cell(row)}
              </td>
            ))}
            {actions && <td className="cell-actions">{actions(row)}</td>}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export interface RowAction {
  /** the button's text */
  label: string;
  /** its accessible name: "<label> <the row's name>" unless given (it must still name the row) */
  name?: string;
  onClick: () => void;
  disabled?: boolean;
  testId?: string;
}

/** A row's action buttons, each named for the row (`row`: the row's name), after any `children` (its status). */
export function RowActions({
  row,
  actions,
  children,
}: {
  row: string;
  actions: ReadonlyArray<RowAction | false | null>;
  children?: ReactNode;
}) {
  return (
    <>
      {children}
      {actions.map(
        (a) =>
          a && (
            <button
              key={a.label}
              type="button"
              className="button button-small"
              disabled={a.disabled}
              onClick={a.onClick}
              aria-label={a.name ?? `${a.label} ${row}`}
              data-testid={a.testId}
            >
              {a.label}
            </button>
          ),
      )}
    </>
  );
}
