import { UNSAFE_INTEGER, type WireValue } from '../codecs/codec';
import type { ColumnInfo } from '../compile/tables';
import { missingValue, withColumn, type SourceRow } from './source-row';

/**
 * The wire data of a row: `{"col":value,...}` in column order. The fast path maps each value to a
 * JS value and calls JSON.stringify once (escaping in native code, one call per row); a row with an
 * int8 beyond ±2^53 is written by concatenating each value's exact JSON text instead.
 */
export function rowSerializer(table: string, columns: readonly ColumnInfo[]): (row: SourceRow) => string {
  const names = columns.map((c) => c.name);
  const codecs = columns.map((c) => c.type.codec!);
  const values = codecs.map((c) => c.value);
  const count = columns.length;
  const concat = concatSerializer(table, columns);
  // `__proto__` as a plain property name would set the prototype: use the concatenating path.
  if (names.includes('__proto__')) return concat;
  return (row) => {
    const out: Record<string, WireValue> = {};
    let i = 0;
    try {
      for (; i < count; i++) {
        const name = names[i]!;
        const text = row[name];
        if (text === undefined) throw missingValue(table, name);
        const value = text === null ? null : values[i]!(text);
        if (value === UNSAFE_INTEGER) return concat(row);
        out[name] = value;
      }
    } catch (error) {
      throw withColumn(error, table, names[i]!);
    }
    return JSON.stringify(out);
  };
}

/** The same output built from each codec's JSON text; exact for every value. */
export function concatSerializer(table: string, columns: readonly ColumnInfo[]): (row: SourceRow) => string {
  const names = columns.map((c) => c.name);
  const prefixes = columns.map((c, i) => `${i === 0 ? '{' : ','}${JSON.stringify(c.name)}:`);
  const encoders = columns.map((c) => c.type.codec!.json);
  const count = columns.length;
  return (row) => {
    let out = '';
    let i = 0;
    try {
      for (; i < count; i++) {
        const text = row[names[i]!];
        if (text === undefined) throw missingValue(table, names[i]!);
        out += prefixes[i]! + (text === null ? 'null' : encoders[i]!(text));
      }
    } catch (error) {
      throw withColumn(error, table, names[i]!);
    }
    return `${out}}`;
  };
}
