import type { ColumnInfo } from '../compile/tables';
import { missingValue, withColumn, type SourceRow } from './source-row';

/**
 * The wire data of a row: `{"col":value,...}` in column order, concatenated from each codec's
 * JSON text. Measured in bench/row-evaluator.ts, this beats building an object and calling
 * JSON.stringify once, and it keeps every value exact (int8 digits) with no second path.
 *
 * The constant text between two values (a quote closing the previous value, the next key, a
 * quote opening the next value) is built once per column as one string, so each value costs two
 * concatenations, and the rope V8 makes of the result has half the pieces it would otherwise:
 * fewer allocations here, and less work where the string gets flattened (the COPY writer).
 */
export type RowSerializer = (row: SourceRow, given?: number, givenInner?: string) => string;

/**
 * Builds the serializer of one client table's columns. `given`/`givenInner`: the caller already
 * has column `given`'s inner() text (the evaluator escaped it for the bucket id), so it is reused.
 */
export function rowSerializer(table: string, columns: readonly ColumnInfo[], extraColumns?: { names: readonly string[] }): RowSerializer {
  const count = columns.length;
  const names = columns.map((c) => c.name);
  const codecs = columns.map((c) => c.type.codec!);
  const quoted = codecs.map((c) => c.quoted);
  const inner = codecs.map((c) => c.inner);
  // glue[4i + 2*open + state]: the text before column i's value when the previous value left a
  // quote open (open = 1) or not, for a value (state 0; it opens a quote when the codec is quoted)
  // or SQL NULL (state 1, the whole `null`).
  const glue: string[] = [];
  for (let i = 0; i < count; i++) {
    const key = `${i === 0 ? '{' : ','}${JSON.stringify(names[i])}:`;
    for (const close of ['', '"']) glue.push(close + key + (quoted[i] ? '"' : ''), `${close}${key}null`);
  }
  return (row, given = -1, givenInner = '') => {
    let out = '';
    let open = 0;
    let i = 0;
    try {
      for (; i < count; i++) {
        const text = row[names[i]!];
        if (text === null) {
          out += glue[4 * i + 2 * open + 1]!;
          open = 0;
        } else if (text === undefined) {
          throw missingValue(table, names[i]!);
        } else {
          out = out + glue[4 * i + 2 * open]! + (i === given ? givenInner : inner[i]!(text));
          open = quoted[i]! ? 1 : 0;
        }
      }
    } catch (error) {
      throw withColumn(error, table, names[i]!);
    }
    if (open) out += '"';
    // Columns schema.ts does not know yet (see DataQueryIR.extraColumns), as observed on the
    // source table: sent as text. Empty unless the table has such columns, so it costs nothing.
    const extras = extraColumns?.names;
    if (extras && extras.length > 0) {
      for (const name of extras) {
        const text = row[name];
        if (text !== undefined) out += `${out === '' ? '{' : ','}${JSON.stringify(name)}:${text === null ? 'null' : JSON.stringify(text)}`;
      }
    }
    return `${out}}`;
  };
}
