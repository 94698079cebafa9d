import type { Codec } from '../codecs/codec';
import type { ColumnInfo, TableInfo } from './tables';

/**
 * The compiled form of each bucket: validated, with every column's codec resolved. Evaluators are
 * built from this, the version hash is taken over it, and the client schema is derived from it.
 */

/** `column = constant` or `column IN (constants)`: the row's key must be one of `keys`. */
export interface ConstantCheck {
  column: ColumnInfo;
  codec: Codec;
  keys: readonly string[];
}

/** A token claim read by a parameter query, canonicalised with `codec` (the column it meets). */
export interface ClaimInput {
  claim: string;
  type: 'string' | 'number' | 'boolean';
  many: boolean;
  codec: Codec;
}

export interface TokenQueryIR {
  kind: 'token';
  /** 1-based, as in error messages. */
  number: number;
  /** One claim per bucket parameter, in parameter order. */
  outputs: ClaimInput[];
}

export interface LookupQueryIR {
  kind: 'lookup';
  number: number;
  /** `<bucket>/<number>`: the lookup query's id inside lookup keys. */
  id: string;
  table: TableInfo;
  /** `column = claim` filters: the lookup's inputs, in filter order. */
  inputs: Array<ClaimInput & { column: ColumnInfo }>;
  constants: ConstantCheck[];
  /** One column per bucket parameter, in parameter order. */
  outputs: Array<{ column: ColumnInfo; codec: Codec }>;
}

export type ParameterQueryIR = TokenQueryIR | LookupQueryIR;

/** `column = parameter`: the row's key of `column` is the value of parameter `param` (an index). */
export interface Binding {
  param: number;
  column: ColumnInfo;
  codec: Codec;
}

export interface DataQueryIR {
  number: number;
  table: TableInfo;
  clientTable: string;
  /** The synced columns, in wire order. */
  columns: ColumnInfo[];
  /**
   * The query names no column subset (no .select()): columns the Postgres table has but
   * lib/db/schema.ts does not yet (added by a migration while the replicator runs) are sent too,
   * after the known ones, as their Postgres text. Omitted columns are never sent.
   */
  extraColumns: boolean;
  bindings: Binding[];
  constants: ConstantCheck[];
}

export interface BucketParameter {
  name: string;
  /** Comparison kind: a column kind (`uuid`, `integer`, ...) or `claim:<type>`. */
  kind: string;
}

export interface BucketIR {
  name: string;
  priority: number;
  parameters: BucketParameter[];
  parameterQueries: ParameterQueryIR[];
  dataQueries: DataQueryIR[];
}
