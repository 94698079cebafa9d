import crypto from 'node:crypto';

/**
 * What bucket storage keeps of each source row (current_rows), besides its buckets: a hash of all
 * of its values, and only those values that pgoutput may leave out of a later change.
 *
 * pgoutput sends a value as "unchanged TOAST" (undefined here) only when it is stored out of line,
 * and Postgres moves a value out of line only when it takes more than 24 bytes with its 4-byte
 * header (toast_tuple_find_biggest_attribute: `tai_size > MAXALIGN(TOAST_POINTER_SIZE)`). Values
 * of fixed-length types are never TOASTed; a text value of 20 UTF-8 bytes or fewer never is either.
 * Every other value is kept, including those of types whose stored form may be larger than their
 * text (arrays, jsonb, numeric, ...) and of columns whose type is unknown.
 */

/** Column name → type OID, from the snapshot's result fields or pgoutput's relation message. */
export type ColumnTypes = ReadonlyMap<string, number>;

// bool, "char", name, int8, int2, int4, oid, tid, xid, cid, point, lseg, box, line, float4, float8,
// circle, money, macaddr8, macaddr, date, time, timestamp, timestamptz, interval, timetz, uuid,
// pg_lsn, xid8: every built-in type with a fixed length.
const FIXED_LENGTH = new Set([16, 18, 19, 20, 21, 23, 26, 27, 28, 29, 600, 601, 603, 628, 700, 701, 718, 790, 774, 829, 1082, 1083, 1114, 1184, 1186, 1266, 2950, 3220, 5069]);
// text, bpchar, varchar, json, xml: stored as their text, so the text's length is the stored size.
const STORED_AS_TEXT = new Set([25, 1042, 1043, 114, 142]);
/** The longest text (in UTF-8 bytes) that Postgres never stores out of line. */
const NEVER_TOASTED_BYTES = 20;

function mayBeToasted(value: string, type: number | undefined): boolean {
  if (type === undefined) return true;
  if (FIXED_LENGTH.has(type)) return false;
  if (!STORED_AS_TEXT.has(type)) return true;
  // A UTF-16 code unit is at most 3 UTF-8 bytes: only measure when the length leaves a doubt.
  return value.length > NEVER_TOASTED_BYTES || (value.length * 3 > NEVER_TOASTED_BYTES && Buffer.byteLength(value, 'utf8') > NEVER_TOASTED_BYTES);
}

/** The values of `row` that a later change may send as unchanged TOAST, so storage must keep them. */
export function toastableValues(row: Readonly<Record<string, string | null>>, types: ColumnTypes | undefined): Record<string, string | null> {
  const kept: Record<string, string | null> = {};
  for (const column in row) {
    const value = row[column];
    if (typeof value === 'string' && mayBeToasted(value, types?.get(column))) kept[column] = value;
  }
  return kept;
}

const oneShotHash = (crypto as { hash?: (algorithm: string, data: string, encoding: 'base64') => string }).hash;

/**
 * A hash of every column and value of a row: 132 bits of SHA-256, so telling "storage already has
 * this row" from a real change never rests on luck or on what a user may type into a row. Neither
 * column names nor Postgres text contain NUL, which makes the encoding unambiguous. Columns are
 * taken in the row's order, which is the table's for the snapshot and for pgoutput alike (sorting
 * them would double the cost); rows whose columns came in another order only compare as changed,
 * which costs a redundant PUT, never a lost change.
 */
export function rowHash(row: Readonly<Record<string, string | null>>): string {
  let text = '';
  for (const column in row) {
    const value = row[column];
    text += value === null || value === undefined ? `${column}\u0000n\u0000` : `${column}\u0000v${value}\u0000`;
  }
  const digest = oneShotHash ? oneShotHash('sha256', text, 'base64') : crypto.createHash('sha256').update(text).digest('base64');
  return digest.slice(0, 22);
}
