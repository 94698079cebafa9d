import type { PgColumn } from 'drizzle-orm/pg-core';
import { NODE, nodeKind, type FilterNode, type OperandNode } from './nodes';
import type { AcceptedKinds, CompareKind, ConstantOf, OperandScope } from './kinds';
import type { Param } from './params';

/**
 * One condition of a query, `column = value` or `column IN (constants)`; a query's filters are
 * ANDed. `TTable` is the SQL name of the column's table, so a filter on another table's column
 * does not type-check; `TScope` says where the value comes from (see OperandScope).
 */
export interface Filter<TTable extends string, TScope extends OperandScope> {
  readonly node: FilterNode;
  /** Type-level only. */
  readonly _filter?: { readonly table: TTable; readonly scope: TScope };
}

/** What `column` may be compared with: a parameter or claim of a compatible kind, or a constant of its type. */
export type Operand<C extends PgColumn> =
  | Param<AcceptedKinds<CompareKind<C>>, 'bucket' | 'token'>
  | ([CompareKind<C>] extends [never] ? never : ConstantOf<C>);

type ScopeOf<V> = V extends Param<string, infer S> ? S : 'constant';

type Describe<V> =
  V extends Param<infer K, 'bucket'>
    ? `a bucket parameter of kind ${K}`
    : V extends Param<infer K, 'token'>
      ? `a token claim of kind ${K}`
      : V extends string | number | boolean | bigint
        ? `the constant ${V}`
        : 'this value';

/** A readable compile error, in the style of Drizzle's DrizzleTypeError. */
export interface SyncRuleTypeError<M extends string> {
  readonly ' syncRuleError': M;
}

type CheckOperand<C extends PgColumn, V> = V extends Operand<C>
  ? unknown
  : SyncRuleTypeError<`${C['_']['tableName']}.${C['_']['name']} (${KindName<C>}) cannot be compared with ${Describe<V>}`>;

type KindName<C extends PgColumn> = [CompareKind<C>] extends [never] ? 'a type without equality filters' : CompareKind<C>;

/**
 * `column = value`. The value is a bucket parameter (data queries), a token claim (parameter
 * lookups) or a constant. A NULL column never matches, as in SQL.
 * @example eq(todos.listId, listId)
 * @example eq(listMembers.userId, token.sub)
 * @example eq(todos.completed, false)
 */
export function eq<C extends PgColumn, V>(column: C, value: V & CheckOperand<C, V>): Filter<C['_']['tableName'], ScopeOf<V>> {
  const operand: OperandNode = nodeKind(value) === undefined ? { [NODE]: 'constant', value } : (value as unknown as OperandNode);
  return { node: { [NODE]: 'filter', op: 'eq', column, operand } };
}

/**
 * `column IN (constants)`: the row matches when the column equals any of the values.
 * @example inArray(announcements.audience, ['all', 'members'])
 */
export function inArray<C extends PgColumn>(
  column: C,
  values: ReadonlyArray<[CompareKind<C>] extends [never] ? never : ConstantOf<C>>,
): Filter<C['_']['tableName'], 'constant'> {
  return { node: { [NODE]: 'filter', op: 'in', column, values: [...values] } };
}
