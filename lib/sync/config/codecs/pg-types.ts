import type { PgColumn } from 'drizzle-orm/pg-core';
import { arrayCodec } from './array';
import type { Codec, WireType } from './codec';
import { dateCodec, timeCodec, timestampCodec, timestamptzCodec } from './datetime';
import { boolCodec, byteaCodec, charCodec, floatCodec, integerCodec, jsonCodec, numericCodec, textCodec, uuidCodec } from './scalars';

/** A column's Postgres type as the sync rules see it. */
export interface ColumnType {
  /** pg_type.typname: `int4`, `timestamptz`, an enum's name; arrays are `_` + the element's typname. */
  pgType: string;
  /** The type as Drizzle declares it, e.g. `timestamp with time zone`, `varchar(255)`. */
  sqlType: string;
  /** How values travel; undefined when the type has no mapping (see `unsupported`). */
  codec: Codec | undefined;
  /** Why the type cannot be synced, for the error message. */
  unsupported?: string;
  /** An enum's values, for the client schema. */
  enumValues?: readonly string[];
  /** For arrays: the element's wire type and the number of dimensions Drizzle declares. */
  array?: { element: WireType; dimensions: number };
}

/** SQL type names (as Drizzle and Postgres spell them, modifiers removed) → typname. */
const TYPNAMES: Record<string, string> = {
  uuid: 'uuid',
  text: 'text',
  varchar: 'varchar',
  'character varying': 'varchar',
  char: 'bpchar',
  character: 'bpchar',
  bpchar: 'bpchar',
  smallint: 'int2',
  int2: 'int2',
  smallserial: 'int2',
  integer: 'int4',
  int: 'int4',
  int4: 'int4',
  serial: 'int4',
  bigint: 'int8',
  int8: 'int8',
  bigserial: 'int8',
  numeric: 'numeric',
  decimal: 'numeric',
  real: 'float4',
  float4: 'float4',
  'double precision': 'float8',
  float8: 'float8',
  boolean: 'bool',
  bool: 'bool',
  'timestamp with time zone': 'timestamptz',
  timestamptz: 'timestamptz',
  timestamp: 'timestamp',
  'timestamp without time zone': 'timestamp',
  date: 'date',
  time: 'time',
  'time without time zone': 'time',
  'time with time zone': 'timetz',
  timetz: 'timetz',
  json: 'json',
  jsonb: 'jsonb',
  bytea: 'bytea',
  inet: 'inet',
  cidr: 'cidr',
  macaddr: 'macaddr',
  macaddr8: 'macaddr8',
};

const CODECS: Record<string, Codec> = {
  uuid: uuidCodec,
  text: textCodec('text'),
  varchar: textCodec('text'),
  bpchar: charCodec(),
  int2: integerCodec('int'),
  int4: integerCodec('int'),
  int8: integerCodec('int8'),
  numeric: numericCodec,
  float4: floatCodec,
  float8: floatCodec,
  bool: boolCodec,
  timestamptz: timestamptzCodec,
  timestamp: timestampCodec,
  date: dateCodec,
  time: timeCodec,
  json: jsonCodec,
  jsonb: jsonCodec,
  bytea: byteaCodec,
  inet: textCodec('inet'),
  cidr: textCodec('cidr'),
  macaddr: textCodec('macaddr'),
  macaddr8: textCodec('macaddr8'),
};

/** The typname of a SQL type name: `timestamp (3) with time zone` → `timestamptz`. */
export function typnameOf(sqlType: string): string {
  const base = sqlType.toLowerCase().replace(/\s*\([^)]*\)/g, '').replace(/\s+/g, ' ').trim();
  return TYPNAMES[base] ?? base;
}

interface ArrayColumn {
  baseColumn: PgColumn;
}

function isEnumColumn(column: PgColumn): boolean {
  return column.columnType === 'PgEnumColumn' || column.columnType === 'PgEnumObjectColumn';
}

/** The type of a Drizzle column, with its codec when Lockstep can sync it. */
export function columnTypeOf(column: PgColumn): ColumnType {
  const sqlType = column.getSQLType();
  if (column.columnType === 'PgArray') {
    let base = (column as unknown as ArrayColumn).baseColumn;
    let dimensions = 1;
    for (; base.columnType === 'PgArray'; dimensions++) base = (base as unknown as ArrayColumn).baseColumn;
    const element = columnTypeOf(base);
    const pgType = `_${element.pgType}`;
    if (!element.codec) return { pgType, sqlType, codec: undefined, unsupported: `arrays of ${element.sqlType} (${element.unsupported ?? 'unsupported'})` };
    return { pgType, sqlType, codec: arrayCodec(element.codec), enumValues: element.enumValues, array: { element: element.codec.wire, dimensions } };
  }
  if (isEnumColumn(column)) {
    return { pgType: sqlType, sqlType, codec: textCodec('text', 'enum'), enumValues: column.enumValues ?? [] };
  }
  const pgType = typnameOf(sqlType);
  const codec = CODECS[pgType];
  if (codec) return { pgType, sqlType, codec };
  return { pgType, sqlType, codec: undefined, unsupported: `${sqlType} has no wire mapping` };
}
