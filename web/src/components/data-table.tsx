import type { ReactNode } from 'react';
import { Empty, TableWrap } from '../ui.js';

/**
 * A list shown as a table with a hidden caption and a header row, or the `empty` note when it has
 * nothing (without `empty`, the table even then): the one look of every list in the dashboard.
 * `actionsColumn` names a last column whose header only screen readers hear (its cells hold buttons).
 */
export function DataTable<T>({
  items,
  empty,
  caption,
  columns,
  actionsColumn,
  children,
}: {
  items: T[];
  empty?: ReactNode;
  caption: string;
  columns: string[];
  actionsColumn?: string;
  children: (item: T) => ReactNode;
}) {
  if (items.length === 0 && empty !== undefined) return <Empty>{empty}</Empty>;
  return (
    <TableWrap caption={caption}>
      <thead>
        <tr>
          {columns.map((column) => (
            <th key={column} scope="col">
              {column}
            </th>
          ))}
          {actionsColumn && (
            <th scope="col">
              <span className="visually-hidden">{actionsColumn}</span>
            </th>
          )}
        </tr>
      </thead>
      <tbody>{items.map((item) => children(item))}</tbody>
    </TableWrap>
  );
}
