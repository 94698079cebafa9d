'use client';

import { useMemo, useSyncExternalStore, type DependencyList } from 'react';
import type { SqlRow, SqlValue } from '@/lib/sync/client/db/database';
import { useSyncContext } from './context';
import type { SyncDatabase } from './drizzle';
import { LiveQueryStore, LOADING } from './live-query-store';

/** A Drizzle query (select, relational query, …) built on the local database: it can say its SQL and be awaited. */
export interface DrizzleQuery<T> extends PromiseLike<T> {
  toSQL(): { sql: string; params: unknown[] };
}

export interface LiveQueryResult<T> {
  /** The latest result; undefined until the first one arrived. Kept while a re-run is in flight. */
  data: T | undefined;
  /** The error of the latest run, if it failed. */
  error: Error | undefined;
  /** True until the first result (or error) for the current query. */
  loading: boolean;
}

type Source<T> = { sql: string; params: readonly unknown[]; run: () => PromiseLike<T> };

/**
 * A query on the local database that re-runs when a table it reads changes (a checkpoint
 * applied, a local write, in this tab or another). Tables are those SQLite reports reading
 * (views resolve to the tables behind them), so an unrelated table's changes never re-run it.
 *
 * @example
 *   // A typed Drizzle query on the client schema: build it from `db`, list what it depends on.
 *   const { data: open } = useLiveQuery((db) => db.select().from(todos).where(eq(todos.listId, listId)), [listId]);
 *   // Raw SQL with parameters: rows as objects.
 *   const { data } = useLiveQuery('SELECT count(*) AS n FROM todos WHERE completed = ?', [0]);
 */
export function useLiveQuery<T extends SqlRow = SqlRow>(sql: string, params?: readonly SqlValue[]): LiveQueryResult<T[]>;
export function useLiveQuery<T>(build: (db: SyncDatabase) => DrizzleQuery<T>, deps: DependencyList): LiveQueryResult<T>;
export function useLiveQuery<T>(query: DrizzleQuery<T>): LiveQueryResult<T>;
export function useLiveQuery(input: string | ((db: SyncDatabase) => DrizzleQuery<unknown>) | DrizzleQuery<unknown>, second?: readonly SqlValue[] | DependencyList): LiveQueryResult<unknown> {
  const { client, db } = useSyncContext();

  // The query object is rebuilt each render; its identity for re-running is its SQL and params.
  const source: Source<unknown> = (() => {
    if (typeof input === 'string') {
      const params = (second ?? []) as readonly SqlValue[];
      return { sql: input, params, run: () => client.query(input, params) };
    }
    const query = typeof input === 'function' ? input(db) : input;
    const { sql, params } = query.toSQL();
    return { sql, params, run: () => query };
  })();
  const key = useMemo(() => `${source.sql}\u0000${stableJson(source.params)}`, [source.sql, source.params]);
  // One store per query (`key`: its SQL and parameters): a new one starts loading, as a new query should.
  const store = useMemo(() => new LiveQueryStore(client, source.sql, source.run), [client, key]);
  // The latest query object is the one run (the same SQL and parameters as the store's).
  store.run = source.run;
  return useSyncExternalStore(store.subscribe, store.getSnapshot, serverSnapshot);
}

const serverSnapshot = (): LiveQueryResult<never> => LOADING;

function stableJson(values: readonly unknown[]): string {
  return JSON.stringify(values, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v instanceof Uint8Array ? Array.from(v) : v));
}
