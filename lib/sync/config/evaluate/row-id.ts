import { LockstepError } from '@/lib/sync/errors';
import type { ColumnInfo } from '../compile/tables';
import { readKey, RowErrorCode, type ColumnReader, type SourceRow } from './source-row';

/**
 * The canonical row id of a table's rows (docs/sync-rules.md#row-ids): the key text of a
 * single-column primary key, or the JSON array text of the key columns' texts, in key order.
 */
export function rowIdReader(table: string, primaryKey: readonly ColumnInfo[]): (row: SourceRow) => string {
  const readers: ColumnReader[] = primaryKey.map((c) => ({ name: c.name, codec: c.type.codec! }));
  const read = (row: SourceRow, column: ColumnReader): string => {
    const key = readKey(row, table, column);
    if (key !== null) return key;
    throw new LockstepError('replication', RowErrorCode.nullKey, `Row of ${table} has NULL in primary key column "${column.name}".`, { details: { table, column: column.name } });
  };
  const [only] = readers;
  if (readers.length === 1 && only) return (row) => read(row, only);
  return (row) => JSON.stringify(readers.map((c) => read(row, c)));
}
