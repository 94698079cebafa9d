'use client';

import { createContext, useContext } from 'react';
import type { SyncClient } from '@/lib/sync/client/client';
import type { SyncDatabase } from './drizzle';

export interface SyncContextValue {
  client: SyncClient;
  db: SyncDatabase;
}

export const SyncContext = createContext<SyncContextValue | null>(null);

/** The sync client and its Drizzle database; throws outside <SyncProvider>. */
export function useSyncContext(): SyncContextValue {
  const value = useContext(SyncContext);
  if (!value) throw new Error('Lockstep: useLiveQuery, useSyncStatus and useSyncClient must be used inside <SyncProvider>.');
  return value;
}

/**
 * The SyncClient of the surrounding <SyncProvider> (for writes: `client.execute(sql, params)`).
 *
 * @example
 *   const client = useSyncClient();
 *   await client.execute('UPDATE todos SET …');
 */
export function useSyncClient(): SyncClient {
  return useSyncContext().client;
}

/**
 * A Drizzle database over the local SQLite, for queries outside useLiveQuery.
 *
 * @example
 *   const db = useSyncDatabase();
 *   const rows = await db.select().from(todos);
 */
export function useSyncDatabase(): SyncDatabase {
  return useSyncContext().db;
}
