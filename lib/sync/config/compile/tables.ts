import { getTableColumns } from 'drizzle-orm';
import { getTableConfig, type PgColumn, type PgTable } from 'drizzle-orm/pg-core';
import type { Codec } from '../codecs/codec';
import { columnTypeOf, type ColumnType } from '../codecs/pg-types';
import { ruleError, SyncRulesErrorCode, type RuleLocation } from './errors';

/** A column of a source table, with its Drizzle property name and type. */
export interface ColumnInfo {
  /** The Postgres column name (the key in source rows and in wire data). */
  name: string;
  /** The property name in the Drizzle table, reused by the client's typed table. */
  key: string;
  notNull: boolean;
  type: ColumnType;
  column: PgColumn;
}

/** A source table as the rules read it. */
export interface TableInfo {
  schema: string;
  name: string;
  /** `schema.name`, the key under which plans are stored. */
  qualified: string;
  columns: ColumnInfo[];
  primaryKey: ColumnInfo[];
  table: PgTable;
}

const cache = new WeakMap<PgTable, TableInfo>();

/** Reads a Drizzle table: its columns and primary key. Throws when it has no primary key. */
export function tableInfo(table: PgTable, at: RuleLocation): TableInfo {
  const cached = cache.get(table);
  if (cached) return withPrimaryKey(cached, at);
  const config = getTableConfig(table);
  const schema = config.schema ?? 'public';
  const columns = Object.entries(getTableColumns(table)).map(([key, column]): ColumnInfo => ({
    name: column.name,
    key,
    notNull: column.notNull,
    type: columnTypeOf(column),
    column,
  }));
  const byName = new Map(columns.map((c) => [c.name, c]));
  const keyColumns = config.primaryKeys[0]?.columns ?? columns.filter((c) => c.column.primary).map((c) => c.column);
  const info: TableInfo = {
    schema,
    name: config.name,
    qualified: `${schema}.${config.name}`,
    columns,
    primaryKey: keyColumns.map((c) => byName.get(c.name)).filter((c): c is ColumnInfo => c !== undefined),
    table,
  };
  cache.set(table, info);
  return withPrimaryKey(info, at);
}

function withPrimaryKey(info: TableInfo, at: RuleLocation): TableInfo {
  if (info.primaryKey.length === 0) {
    throw ruleError(
      SyncRulesErrorCode.noPrimaryKey,
      at,
      `table ${info.qualified} has no primary key, so its rows have no stable id to sync by.`,
      `add a primary key to ${info.name} in lib/db/schema.ts (.primaryKey() on a column, or primaryKey({ columns: [...] })) and generate a migration.`,
    );
  }
  for (const column of info.primaryKey) codecOf(info, column, at, 'primary key column');
  return info;
}

/** The column of `table` that `column` is; throws when it belongs to another table. */
export function ownColumn(info: TableInfo, column: PgColumn, at: RuleLocation): ColumnInfo {
  const found = info.columns.find((c) => c.column === column);
  if (found) return found;
  const other = (column as { table?: PgTable }).table;
  const otherName = other ? getTableConfig(other).name : 'another table';
  throw ruleError(
    SyncRulesErrorCode.wrongTable,
    at,
    `column ${otherName}.${column.name} is not a column of ${info.name}.`,
    `use a column of ${info.name} (${info.columns.map((c) => c.key).join(', ')}), or write a separate query on ${otherName}.`,
  );
}

/** The column's codec; throws naming the table and column when its type has no wire mapping. */
export function codecOf(info: TableInfo, column: ColumnInfo, at: RuleLocation, role = 'column'): Codec {
  if (column.type.codec) return column.type.codec;
  throw ruleError(
    SyncRulesErrorCode.unsupportedType,
    at,
    `${role} ${info.name}.${column.name} has type ${column.type.sqlType}, which Lockstep cannot sync (${column.type.unsupported ?? 'no mapping'}).`,
    `leave the column out with .omit(${info.name}.${column.key}) or .select(...), or change its type to one listed in docs/sync-rules.md#type-mapping.`,
  );
}
