import type { PgColumn, PgTable } from 'drizzle-orm/pg-core';
import { NODE, type DataQueryNode, type FilterNode, type LookupQueryNode } from './nodes';
import type { ColumnOf, CompareKind, TableName } from './kinds';
import type { Filter } from './filters';

/**
 * A data query: rows of one table that belong to a bucket instance. Its filters may compare
 * columns with the bucket's parameters and with constants, so it can be evaluated on each row alone.
 */
export class DataQuery<TName extends string> implements DataQueryNode {
  readonly [NODE] = 'data' as const;

  constructor(
    readonly table: PgTable,
    readonly selected: readonly PgColumn[] | undefined = undefined,
    readonly omitted: readonly PgColumn[] = [],
    readonly filters: readonly FilterNode[] = [],
    readonly clientTable: string | undefined = undefined,
  ) {}

  /** Keeps rows matching every filter (ANDed with filters from earlier calls). */
  where(...filters: Array<Filter<TName, 'bucket' | 'constant'>>): DataQuery<TName> {
    return new DataQuery(this.table, this.selected, this.omitted, [...this.filters, ...filters.map((f) => f.node)], this.clientTable);
  }

  /** Syncs only these columns (in this order). */
  select(...columns: Array<ColumnOf<TName>>): DataQuery<TName> {
    return new DataQuery(this.table, columns, this.omitted, this.filters, this.clientTable);
  }

  /** Syncs every column except these, e.g. a password hash. */
  omit(...columns: Array<ColumnOf<TName>>): DataQuery<TName> {
    return new DataQuery(this.table, this.selected, [...this.omitted, ...columns], this.filters, this.clientTable);
  }

  /** Names the client table (SQLite view) the rows land in; defaults to the source table's name. */
  as(clientTable: string): DataQuery<TName> {
    return new DataQuery(this.table, this.selected, this.omitted, this.filters, clientTable);
  }
}

/**
 * Rows of `table` for a bucket's data.
 * @example from(todos).where(eq(todos.listId, listId))
 * @example from(users).omit(users.passwordHash).where(eq(users.id, userId))
 */
export function from<T extends PgTable>(table: T): DataQuery<TableName<T>> {
  return new DataQuery(table);
}

/**
 * A parameter query: an equality lookup on a table. Every row matching the filters gives one
 * bucket instance, whose parameters are read from the output columns.
 */
export class LookupQuery<TName extends string, P extends Record<string, string>> implements LookupQueryNode {
  readonly [NODE] = 'lookup' as const;
  /** Type-level only: the parameters this query yields (invariant, so queries of a bucket agree). */
  declare readonly _params?: (p: P) => P;

  constructor(
    readonly table: PgTable,
    readonly outputs: ReadonlyArray<readonly [string, PgColumn]>,
    readonly filters: readonly FilterNode[] = [],
  ) {}

  /** Keeps rows matching every filter: columns compared with token claims or constants. */
  where(...filters: Array<Filter<TName, 'token' | 'constant'>>): LookupQuery<TName, P> {
    return new LookupQuery(this.table, this.outputs, [...this.filters, ...filters.map((f) => f.node)]);
  }
}

/**
 * Bucket parameters looked up in a table, e.g. the lists a user is a member of. Each output
 * parameter takes the comparison kind of its column.
 * @example lookup(listMembers, { listId: listMembers.listId }).where(eq(listMembers.userId, token.sub))
 */
export function lookup<T extends PgTable, O extends Record<string, ColumnOf<TableName<T>>>>(
  table: T,
  outputs: O,
): LookupQuery<TableName<T>, { [K in keyof O]: CompareKind<O[K]> }> {
  return new LookupQuery(table, Object.entries(outputs));
}
