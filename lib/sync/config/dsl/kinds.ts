import type { PgColumn, PgTable } from 'drizzle-orm/pg-core';

/**
 * Type-level comparison kinds. Two operands may be compared in a sync-rule filter only when their
 * kinds agree, the way Postgres refuses `uuid = integer` without a cast. The kind of a column comes
 * from its Drizzle column type; a bucket parameter takes the kind of the column it was read from.
 */
export type CompareKind<C extends PgColumn> = KindOfColumnType<C['_']['columnType']>;

type KindOfColumnType<T extends string> = T extends 'PgUUID'
  ? 'uuid'
  : T extends 'PgText' | 'PgVarchar' | 'PgChar' | 'PgEnumColumn' | 'PgEnumObjectColumn'
    ? 'text'
    : T extends 'PgSmallInt' | 'PgInteger' | 'PgSerial' | 'PgSmallSerial' | 'PgBigInt53' | 'PgBigInt64' | 'PgBigSerial53' | 'PgBigSerial64'
      ? 'integer'
      : T extends 'PgBoolean'
        ? 'boolean'
        : T extends 'PgTimestamp' | 'PgTimestampString'
          ? 'timestamp'
          : T extends 'PgDate' | 'PgDateString'
            ? 'date'
            : T extends 'PgNumeric' | 'PgNumericNumber' | 'PgNumericBigInt'
              ? 'numeric'
              : T extends 'PgReal' | 'PgDoublePrecision'
                ? 'float'
                : T extends 'PgArray' | 'PgJson' | 'PgJsonb'
                  ? never // not comparable: a filter on these cannot be a plain equality of text values
                  : T;

/**
 * The kind of a value read from a token claim: `string` claims compare with uuid and text columns,
 * `number` claims with integer columns. An array claim (`[]`) matches a column equal to any element.
 */
export type ClaimKind = `claim:${'string' | 'number' | 'boolean'}${'' | '[]'}`;

/** Kinds of parameter that may be compared with a column of kind K. */
export type AcceptedKinds<K extends string> =
  | K
  | (K extends 'uuid' | 'text' ? 'claim:string' | 'claim:string[]' : never)
  | (K extends 'integer' ? 'claim:number' | 'claim:number[]' : never)
  | (K extends 'boolean' ? 'claim:boolean' | 'claim:boolean[]' : never);

/** The SQL name of a Drizzle table, as a literal type. */
export type TableName<T extends PgTable> = T['_']['name'];

/** A column of the table named N. */
export type ColumnOf<N extends string> = PgColumn & { readonly _: { readonly tableName: N } };

/** The JS value a constant compared with column C must have (its Drizzle `data` type, never null). */
export type ConstantOf<C extends PgColumn> = C['_']['data'];

/** Where the operand of a filter comes from: a bucket parameter, a token claim, or a constant. */
export type OperandScope = 'bucket' | 'token' | 'constant';
