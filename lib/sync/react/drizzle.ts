import { drizzle, type SqliteRemoteDatabase } from 'drizzle-orm/sqlite-proxy';
import type { SyncClient } from '@/lib/sync/client/client';
import type { SqlValue } from '@/lib/sync/client/db/database';

/** A Drizzle database over the local SQLite (queries run in the leader tab's worker). */
export type SyncDatabase = SqliteRemoteDatabase<Record<string, never>>;

/**
 * Drizzle's sqlite-proxy driver over a SyncClient: typed queries on the client schema
 * (lib/sync/generated/client-schema.ts) run against the local database. Inserts, updates and
 * deletes on client tables are local writes: applied at once and queued for upload, one local
 * transaction per statement; `db.batch([...])` of writes is ONE local transaction.
 *
 * @example
 *   const db = syncDatabase(client);
 *   const open = await db.select().from(todos).where(eq(todos.completed, false));
 *   await db.batch([db.insert(todos).values(todo), db.update(lists).set({ name }).where(eq(lists.id, listId))]);
 */
export function syncDatabase(client: SyncClient): SyncDatabase {
  return drizzle(
    async (sql, params, method) => {
      const bound = params as SqlValue[];
      if (method === 'run') {
        await client.execute(sql, bound);
        return { rows: [] };
      }
      const rows = await client.queryValues(sql, bound);
      // sqlite-proxy wants the row itself for `get`, and arrays of values otherwise.
      return { rows: method === 'get' ? (rows[0] as unknown as unknown[]) : rows };
    },
    async (batch) => {
      if (batch.some((q) => q.method !== 'run')) throw new Error('Lockstep: db.batch() takes writes only (insert, update, delete without returning); run queries on their own.');
      await client.executeBatch(batch.map((q) => ({ sql: q.sql, params: q.params as SqlValue[] })));
      return batch.map(() => ({ rows: [] }));
    },
  );
}
