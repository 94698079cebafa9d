import type { Codec } from '../codecs/codec';
import type { ClaimNode } from '../dsl/nodes';
import { ruleError, SyncRulesErrorCode, type RuleLocation } from './errors';
import { codecOf, type ColumnInfo, type TableInfo } from './tables';

/** The codec of a column used in a filter or as a parameter; throws when the type has no equality. */
export function comparableCodec(info: TableInfo, column: ColumnInfo, at: RuleLocation): Codec {
  const codec = codecOf(info, column, at);
  if (codec.compareKind !== undefined) return codec;
  throw ruleError(
    SyncRulesErrorCode.typeMismatch,
    at,
    `${info.name}.${column.name} (${column.type.sqlType}) cannot be filtered on or used as a parameter: its values have no equality Lockstep can evaluate per row.`,
    `filter on a uuid, text, integer, boolean, numeric, date or timestamp column instead.`,
  );
}

const CLAIM_KINDS: Record<ClaimNode['type'], readonly string[]> = {
  string: ['uuid', 'text'],
  number: ['integer'],
  boolean: ['boolean'],
};

/** True when a parameter of kind `paramKind` may be compared with a column of kind `columnKind`. */
export function kindsMatch(paramKind: string, columnKind: string): boolean {
  if (paramKind === columnKind) return true;
  if (!paramKind.startsWith('claim:')) return false;
  const type = paramKind.slice('claim:'.length) as ClaimNode['type'];
  return CLAIM_KINDS[type]?.includes(columnKind) ?? false;
}

/** The key of a constant compared with `column`, via Drizzle's own mapping of the JS value. */
export function constantKey(info: TableInfo, column: ColumnInfo, codec: Codec, value: unknown, at: RuleLocation): string {
  let key: string | undefined;
  if (value !== null && value !== undefined) {
    let driverValue: unknown = value;
    try {
      driverValue = column.column.mapToDriverValue(value);
    } catch {
      // Not a value Drizzle can map for this column: fall back to the value itself.
    }
    key = codec.keyOfValue(driverValue) ?? codec.keyOfValue(value);
  }
  if (key !== undefined) return key;
  throw ruleError(
    SyncRulesErrorCode.typeMismatch,
    at,
    `${info.name}.${column.name} (${column.type.sqlType}) is compared with ${describeConstant(value)}, which is not a ${column.type.sqlType} value.`,
    value === null || value === undefined
      ? 'compare with a value: in SQL, NULL equals nothing, so the filter would never match.'
      : `compare with a constant of the column's type, as Drizzle would accept it for ${column.key}.`,
  );
}

function describeConstant(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'bigint') return `${value}n`;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
