import { LockstepError } from '@/lib/sync/errors';
import { ROW_VALUE_INVALID, type Codec } from '../codecs/codec';

/**
 * A source row in Postgres text output format, as pgoutput and COPY deliver it: column name →
 * text, null for SQL NULL, undefined for an unchanged TOAST value (the replicator fills those in
 * from stored data before evaluating; a missing value here is an error).
 */
export type SourceRow = Record<string, string | null | undefined>;

/** Error codes of rows the evaluators cannot read. */
export const RowErrorCode = {
  /** A column the rules need is absent or undefined (an unfilled TOAST value, or a schema drift). */
  incomplete: 'SYNC_ROW_INCOMPLETE',
  /** A value is not in the text format of its column's type. */
  invalid: ROW_VALUE_INVALID,
  /** A primary key column is NULL. */
  nullKey: 'SYNC_ROW_NULL_KEY',
} as const;

/** The error for a column the rules need that the row lacks. */
export function missingValue(table: string, column: string): LockstepError {
  return new LockstepError(
    'replication',
    RowErrorCode.incomplete,
    `Row of ${table} has no value for column "${column}" (undefined: an unchanged TOAST value must be filled in from stored data before evaluating, and a column must exist in the database).`,
    { details: { table, column } },
  );
}

/** Adds the table and column to a codec's error about a malformed value. */
export function withColumn(error: unknown, table: string, column: string): unknown {
  if (error instanceof LockstepError && error.code === ROW_VALUE_INVALID) {
    return new LockstepError('replication', ROW_VALUE_INVALID, `Row of ${table}, column "${column}": ${error.message}`, { cause: error, details: { table, column } });
  }
  return error;
}

/** A column read by an evaluator: its name and codec. */
export interface ColumnReader {
  readonly name: string;
  readonly codec: Codec;
}

/** The key of a non-null value, or null for SQL NULL; throws for absent values and bad text. */
export function readKey(row: SourceRow, table: string, column: ColumnReader): string | null {
  const text = row[column.name];
  if (text === null) return null;
  if (text === undefined) throw missingValue(table, column.name);
  try {
    return column.codec.key(text);
  } catch (error) {
    throw withColumn(error, table, column.name);
  }
}
