import type { SqliteType, WireType } from '../codecs/codec';
import type { BucketIR, DataQueryIR } from './ir';
import { ruleError, SyncRulesErrorCode } from './errors';
import type { ColumnInfo } from './tables';

/** Prefix of the schemaless store tables on the client: `ls_data__<client table>`. */
export const STORE_PREFIX = 'ls_data__';

/** A column of a client table (a SQLite view column). */
export interface ClientColumn {
  /** Column name in SQLite, the same as in Postgres and in the wire data. */
  name: string;
  /** Property name in the typed Drizzle table, the same as in lib/db/schema.ts. */
  key: string;
  sqliteType: SqliteType;
  /** `rowid` for the `id` column (the row id); otherwise the source column's wire type. */
  wire: WireType | 'rowid';
  notNull: boolean;
  /** The TypeScript type the typed Drizzle table gives values of this column (null aside). */
  tsType: string;
  /** For enums: the allowed values. For arrays: the element wire type and dimensions. */
  enumValues?: readonly string[];
  array?: { element: WireType; dimensions: number };
}

/** A synced table as the client sees it: a view over a schemaless JSON store. */
export interface ClientTable {
  name: string;
  /** The Postgres table it is read from, `schema.name`. */
  sourceTable: string;
  /** `(id TEXT PRIMARY KEY, data TEXT)`: the row id and the JSON wire data. */
  storeTable: string;
  /** `id` first (the row id), then the synced columns in wire order. */
  columns: ClientColumn[];
  createStoreSql: string;
  createViewSql: string;
  dropViewSql: string;
}

/** Identifier quoting for SQLite (and Postgres): double quotes, doubled inside. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function jsonPath(name: string): string {
  const path = /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) ? `$.${name}` : `$.${JSON.stringify(name)}`;
  return `'${path.replace(/'/g, "''")}'`;
}

/** The client tables of the rules; throws when two queries disagree about one. */
export function clientTables(buckets: readonly BucketIR[], source: string): ClientTable[] {
  const byName = new Map<string, { query: DataQueryIR; bucket: string }>();
  for (const bucket of buckets) {
    for (const query of bucket.dataQueries) {
      const seen = byName.get(query.clientTable);
      if (!seen) byName.set(query.clientTable, { query, bucket: bucket.name });
      else assertSameShape(seen, { query, bucket: bucket.name }, source);
    }
  }
  return [...byName.values()].map(({ query, bucket }) => clientTable(query, bucket, source)).sort((a, b) => a.name.localeCompare(b.name));
}

function assertSameShape(a: { query: DataQueryIR; bucket: string }, b: { query: DataQueryIR; bucket: string }, source: string): void {
  const columns = (q: DataQueryIR) => q.columns.map((c) => c.name).join(', ');
  if (a.query.table.qualified === b.query.table.qualified && columns(a.query) === columns(b.query)) return;
  throw ruleError(
    SyncRulesErrorCode.clientTableConflict,
    { source, bucket: b.bucket, rule: `data query #${b.query.number} (${b.query.table.name})` },
    `it writes client table "${b.query.clientTable}" with ${b.query.table.qualified} (${columns(b.query)}), but bucket "${a.bucket}" data query #${a.query.number} writes it with ${a.query.table.qualified} (${columns(a.query)}); a client table has one source and one set of columns.`,
    `select the same columns in both queries, or give one a different client table with .as('${b.query.clientTable}_${b.bucket}').`,
  );
}

function clientTable(query: DataQueryIR, bucket: string, source: string): ClientTable {
  const { table } = query;
  const idColumn = query.columns.find((c) => c.name === 'id');
  const [onlyKey] = table.primaryKey;
  const idIsKey = idColumn !== undefined && table.primaryKey.length === 1 && onlyKey === idColumn;
  if (idColumn && !idIsKey) {
    throw ruleError(
      SyncRulesErrorCode.clientTableConflict,
      { source, bucket, rule: `data query #${query.number} (${table.name})` },
      `column ${table.name}.id is not the table's single-column primary key, but every client table's "id" column holds the row id.`,
      'leave the column out with .omit(), or make it the primary key.',
    );
  }
  const keyOfId = idIsKey ? idColumn.key : 'id';
  const clash = query.columns.find((c) => c.key === 'id' && c.name !== 'id');
  if (clash) {
    throw ruleError(
      SyncRulesErrorCode.clientTableConflict,
      { source, bucket, rule: `data query #${query.number} (${table.name})` },
      `property "id" of ${table.name} is column ${clash.name}, but the client table's id property is the row id.`,
      'rename the Drizzle property, or leave the column out with .omit().',
    );
  }
  const columns: ClientColumn[] = [
    { name: 'id', key: keyOfId, sqliteType: 'TEXT', wire: 'rowid', notNull: true, tsType: 'string' },
    ...query.columns.filter((c) => c !== idColumn || !idIsKey).map(clientColumn),
  ];
  const storeTable = `${STORE_PREFIX}${query.clientTable}`;
  const select = columns.map((c) => (c.wire === 'rowid' ? quoteIdent('id') : `${viewExpression(c)} AS ${quoteIdent(c.name)}`));
  return {
    name: query.clientTable,
    sourceTable: table.qualified,
    storeTable,
    columns,
    createStoreSql: `CREATE TABLE IF NOT EXISTS ${quoteIdent(storeTable)} (id TEXT PRIMARY KEY NOT NULL, data TEXT NOT NULL)`,
    createViewSql: `CREATE VIEW ${quoteIdent(query.clientTable)} AS SELECT ${select.join(', ')} FROM ${quoteIdent(storeTable)}`,
    dropViewSql: `DROP VIEW IF EXISTS ${quoteIdent(query.clientTable)}`,
  };
}

function viewExpression(column: ClientColumn): string {
  const extract = `json_extract(data, ${jsonPath(column.name)})`;
  return column.wire === 'bytea' ? `unhex(${extract})` : extract;
}

function clientColumn(column: ColumnInfo): ClientColumn {
  const codec = column.type.codec!;
  const out: ClientColumn = { name: column.name, key: column.key, sqliteType: codec.sqliteType, wire: codec.wire, notNull: column.notNull, tsType: tsTypeOf(column) };
  if (column.type.enumValues) out.enumValues = column.type.enumValues;
  if (column.type.array) out.array = column.type.array;
  return out;
}

const TS_TYPES: Partial<Record<WireType, string>> = {
  int: 'number',
  int8: 'number',
  float: 'number',
  bool: 'boolean',
  json: 'unknown',
  bytea: 'Uint8Array',
};

/** Element types inside array JSON: bool is 1/0 there too, json elements are embedded values. */
const ELEMENT_TS_TYPES: Partial<Record<WireType, string>> = { int: 'number', int8: 'number', float: 'number | null', bool: 'number', json: 'unknown' };

function tsTypeOf(column: ColumnInfo): string {
  const { type } = column;
  const wire = type.codec!.wire;
  const union = (values: readonly string[]) => values.map((v) => JSON.stringify(v)).join(' | ') || 'string';
  if (type.array) {
    let element = type.enumValues ? union(type.enumValues) : ELEMENT_TS_TYPES[type.array.element] ?? 'string';
    element = `(${element} | null)`;
    return element + '[]'.repeat(type.array.dimensions);
  }
  if (type.enumValues) return union(type.enumValues);
  if (wire === 'int8' && column.column.dataType === 'bigint') return 'bigint';
  return TS_TYPES[wire] ?? 'string';
}
