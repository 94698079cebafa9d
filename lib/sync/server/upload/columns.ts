import { getTableColumns, getTableName } from 'drizzle-orm';
import { getTableConfig, type PgColumn, type PgTable } from 'drizzle-orm/pg-core';
import { z } from 'zod';
import { UploadRejectionCode } from '@/lib/sync/protocol';
import { UploadRejection } from './rejection';

/**
 * Validation of uploaded rows, derived from the Drizzle table: the client sends columns by their
 * Postgres names with the values it holds locally (its SQLite row: booleans as 0/1, timestamps as
 * ISO-8601 text, JSON as text), and gets back Drizzle values keyed by the table's property names.
 */
export interface TableShape {
  name: string;
  table: PgTable;
  /** Postgres column name → Drizzle property name and column. */
  columns: Map<string, { key: string; column: PgColumn; schema: z.ZodType }>;
  /** The primary key columns, in key order. */
  primaryKey: Array<{ key: string; column: PgColumn }>;
}

/** Reads a Drizzle table's columns and key once, for validating every uploaded row of it. */
export function tableShape(table: PgTable): TableShape {
  const name = getTableName(table);
  const columns = new Map<string, { key: string; column: PgColumn; schema: z.ZodType }>();
  for (const [key, column] of Object.entries(getTableColumns(table))) columns.set(column.name, { key, column, schema: valueSchema(column) });
  const composite = getTableConfig(table).primaryKeys[0]?.columns;
  const keyColumns = composite ?? [...columns.values()].filter((c) => c.column.primary).map((c) => c.column);
  const primaryKey = keyColumns.map((column) => ({ key: columns.get(column.name)!.key, column }));
  if (primaryKey.length === 0) throw new Error(`${name} has no primary key: uploads cannot address its rows.`);
  return { name, table, columns, primaryKey };
}

/**
 * Validates an uploaded row: for PUT every required column (NOT NULL without a default) must be
 * there; for PATCH only the changed ones. Unknown columns are refused, naming them.
 */
export function parseRow(shape: TableShape, data: Record<string, unknown>, mode: 'put' | 'patch'): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const issues: string[] = [];
  for (const [column, value] of Object.entries(data)) {
    const entry = shape.columns.get(column);
    // Every client table has an `id` column holding the row id; for a composite key it is not a
    // Postgres column, and the op's id already carries the key.
    if (!entry && column === 'id' && shape.primaryKey.length > 1) continue;
    if (!entry) {
      issues.push(`${column}: ${shape.name} has no such column`);
      continue;
    }
    const parsed = entry.schema.safeParse(value);
    if (parsed.success) out[entry.key] = parsed.data;
    else issues.push(`${column}: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
  }
  if (mode === 'put') {
    for (const [column, entry] of shape.columns) {
      if (entry.column.notNull && !entry.column.hasDefault && !(column in data)) issues.push(`${column}: required`);
    }
  }
  if (issues.length > 0) {
    throw new UploadRejection(UploadRejectionCode.invalidRow, `Invalid ${shape.name} row: ${issues.join(', ')}.`, { table: shape.name, issues });
  }
  return out;
}

/** The primary key values of a row id: the key's text, or a JSON array of texts for composite keys. */
export function parseRowId(shape: TableShape, id: string): Record<string, unknown> {
  let parts: unknown[] = [id];
  if (shape.primaryKey.length > 1) {
    try {
      parts = JSON.parse(id) as unknown[];
    } catch {
      parts = [];
    }
    if (!Array.isArray(parts) || parts.length !== shape.primaryKey.length) {
      throw new UploadRejection(UploadRejectionCode.invalidRow, `The ${shape.name} row id must be a JSON array of ${shape.primaryKey.length} key values.`, { table: shape.name, id });
    }
  }
  const key: Record<string, unknown> = {};
  shape.primaryKey.forEach(({ key: property, column }, i) => {
    const parsed = shape.columns.get(column.name)!.schema.safeParse(parts[i]);
    if (!parsed.success || parsed.data === null) {
      throw new UploadRejection(UploadRejectionCode.invalidRow, `The ${shape.name} row id ${JSON.stringify(id)} is not a valid ${column.name}.`, { table: shape.name, id });
    }
    key[property] = parsed.data;
  });
  return key;
}

const booleanValue = z.union([z.boolean(), z.literal(0), z.literal(1)]).transform((v) => v === true || v === 1);
const timestampValue = z.union([z.iso.datetime({ offset: true, local: true }), z.iso.date()]).transform((v) => new Date(v));
const jsonValue = z.unknown().transform((v, ctx) => {
  if (typeof v !== 'string') return v;
  try {
    return JSON.parse(v) as unknown;
  } catch {
    ctx.addIssue({ code: 'custom', message: 'not valid JSON text' });
    return z.NEVER;
  }
});

/** The zod schema of one column's uploaded value, by its Drizzle column type. */
function valueSchema(column: PgColumn): z.ZodType {
  let schema: z.ZodType;
  switch (column.columnType) {
    case 'PgUUID':
      schema = z.uuid();
      break;
    case 'PgBoolean':
      schema = booleanValue;
      break;
    case 'PgTimestamp':
      schema = timestampValue;
      break;
    case 'PgTimestampString':
    case 'PgDateString':
    case 'PgDate':
    case 'PgTime':
    case 'PgNumeric':
    case 'PgInterval':
      schema = z.union([z.string(), z.number()]).transform(String);
      break;
    case 'PgInteger':
    case 'PgSmallInt':
    case 'PgSerial':
    case 'PgSmallSerial':
    case 'PgBigInt53':
    case 'PgBigSerial53':
      schema = z.number().int();
      break;
    case 'PgBigInt64':
    case 'PgBigSerial64':
      schema = z.union([z.string().regex(/^-?\d+$/), z.number().int()]).transform((v) => BigInt(v));
      break;
    case 'PgReal':
    case 'PgDoublePrecision':
      schema = z.number();
      break;
    case 'PgJson':
    case 'PgJsonb':
      schema = jsonValue;
      break;
    default:
      schema = column.enumValues?.length ? z.enum(column.enumValues as [string, ...string[]]) : z.string();
  }
  if (column.enumValues?.length && column.dataType === 'string' && column.columnType !== 'PgUUID') schema = z.enum(column.enumValues as [string, ...string[]]);
  return column.notNull ? schema : schema.nullable();
}
