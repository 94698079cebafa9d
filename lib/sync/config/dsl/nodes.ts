import type { PgColumn, PgTable } from 'drizzle-orm/pg-core';

/**
 * The plain data a sync.config.ts builds: what the typed builders in this folder record and what
 * the compiler reads. Nothing here is evaluated per row; the compiler turns it into plans.
 */

/** Marks every node, so the compiler can tell DSL values from constants (survives duplicate copies). */
export const NODE = Symbol.for('lockstep.syncRules.node');

/** A JWT claim. `many`: the claim is an array, each element gives its own bucket instance or lookup. */
export interface ClaimNode {
  readonly [NODE]: 'claim';
  readonly name: string;
  readonly type: 'string' | 'number' | 'boolean';
  readonly many: boolean;
}

/** A parameter of the bucket whose data queries are being built. */
export interface ParamNode {
  readonly [NODE]: 'param';
  readonly name: string;
  /** Identifies the bucket the parameter belongs to; a parameter used in another bucket is an error. */
  readonly owner: object;
}

/** A name the data callback read from its parameters object that the bucket does not define. */
export interface MissingParamNode {
  readonly [NODE]: 'missing-param';
  readonly name: string;
}

export type OperandNode = ClaimNode | ParamNode | MissingParamNode | { readonly [NODE]: 'constant'; readonly value: unknown };

export type FilterNode =
  | { readonly [NODE]: 'filter'; readonly op: 'eq'; readonly column: PgColumn; readonly operand: OperandNode }
  | { readonly [NODE]: 'filter'; readonly op: 'in'; readonly column: PgColumn; readonly values: readonly unknown[] };

export interface DataQueryNode {
  readonly [NODE]: 'data';
  readonly table: PgTable;
  /** Only these columns, in this order (undefined: every column of the table). */
  readonly selected: readonly PgColumn[] | undefined;
  readonly omitted: readonly PgColumn[];
  readonly filters: readonly FilterNode[];
  /** The client table (SQLite view) name; defaults to the source table's name. */
  readonly clientTable: string | undefined;
}

export interface LookupQueryNode {
  readonly [NODE]: 'lookup';
  readonly table: PgTable;
  readonly outputs: ReadonlyArray<readonly [param: string, column: PgColumn]>;
  readonly filters: readonly FilterNode[];
}

export interface TokenQueryNode {
  readonly [NODE]: 'token';
  readonly outputs: ReadonlyArray<readonly [param: string, claim: ClaimNode]>;
}

export type ParameterQueryNode = LookupQueryNode | TokenQueryNode;

export interface BucketNode {
  readonly [NODE]: 'bucket';
  readonly priority: number | undefined;
  readonly parameters: readonly ParameterQueryNode[];
  readonly data: (params: Record<string, unknown>) => readonly unknown[];
}

export interface SyncRulesNode {
  readonly [NODE]: 'rules';
  readonly buckets: Readonly<Record<string, BucketNode>>;
}

/** The node kind of a DSL value, or undefined for anything else (a constant). */
export function nodeKind(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const kind = (value as { [NODE]?: unknown })[NODE];
  return typeof kind === 'string' ? kind : undefined;
}
