'use client';

import { useEffect, useState, type ReactNode } from 'react';
import type { ClientSchema } from '@/lib/sync/config';
import type { SyncClient } from '@/lib/sync/client/client';
import type { LogLevel } from '@/lib/sync/client/log';
import { BrowserSyncClient } from '@/lib/sync/client/tabs/tab-client';
import type { RejectedWrite } from '@/lib/sync/client/writes/queue-store';
import type { UploadFunction } from '@/lib/sync/client/writes/upload-loop';
import type { SqlParams } from '@/lib/sync/client/db/database';
import { TESTING_GLOBAL, type TestingHandle } from '@/lib/sync/testing/contract';
import { SyncContext, type SyncContextValue } from './context';
import { syncDatabase } from './drizzle';

export interface SyncProviderProps {
  /** The compiled client schema: `clientSchema` from lib/sync/generated/client-schema.ts. */
  schema: ClientSchema;
  /** A client made elsewhere (tests, Node); by default the provider makes a BrowserSyncClient. */
  client?: SyncClient;
  /** Database name (one per signed-in user is a good choice). Default 'lockstep'. */
  dbName?: string;
  storage?: 'opfs' | 'memory';
  logLevel?: LogLevel;
  /**
   * Sends one local transaction to the server: pass the app's upload server action
   * (`uploadTransaction` from app/actions/upload.ts). Without it, local writes stay queued.
   */
  upload?: UploadFunction;
  /** Called when the server rejected a local transaction (already undone locally). */
  onUploadRejected?(rejected: RejectedWrite): void;
  /** Shown until the client exists (the first render on the client, and on the server). */
  fallback?: ReactNode;
  children: ReactNode;
}

/** Browser clients by database name, shared by providers and kept through StrictMode's remount. */
const shared = new Map<string, { client: BrowserSyncClient; users: number; closing?: ReturnType<typeof setTimeout> }>();

function acquire(props: SyncProviderProps): BrowserSyncClient {
  const name = props.dbName ?? 'lockstep';
  let entry = shared.get(name);
  if (!entry) {
    const options = {
      schema: props.schema,
      dbName: name,
      ...(props.storage ? { storage: props.storage } : {}),
      ...(props.logLevel ? { logLevel: props.logLevel } : {}),
      ...(props.upload ? { upload: props.upload } : {}),
      // Read through the props of the moment, so a re-rendered callback is the one called.
      onUploadRejected: (rejected: RejectedWrite) => latestRejected.get(name)?.(rejected),
    };
    entry = { client: new BrowserSyncClient(options), users: 0 };
    shared.set(name, entry);
  }
  clearTimeout(entry.closing);
  entry.users++;
  return entry.client;
}

/** The latest onUploadRejected of each database's provider. */
const latestRejected = new Map<string, ((rejected: RejectedWrite) => void) | undefined>();

/** window.__lockstep for browser tests (lib/sync/testing/contract.ts). */
function exposeForTests(client: SyncClient): void {
  if (typeof window === 'undefined') return;
  const handle: TestingHandle = {
    checkpoint: () => client.status?.checkpoint?.lastOpId ?? null,
    writeCheckpoint: () => client.status?.checkpoint?.writeCheckpoint ?? null,
    clientId: () => client.status?.clientId ?? null,
    query: (sql, params) => client.query(sql, params as SqlParams | undefined),
    execute: async (sql, params) => ({ changes: (await client.execute(sql, params as SqlParams | undefined)).changes }),
    pendingUploads: () => client.status?.pendingUploads ?? 0,
  };
  (window as unknown as Record<string, unknown>)[TESTING_GLOBAL] = handle;
}

function release(name: string): void {
  const entry = shared.get(name);
  if (!entry) return;
  entry.users--;
  if (entry.users > 0) return;
  // A remount (StrictMode, fast refresh) re-acquires before this fires.
  entry.closing = setTimeout(() => {
    shared.delete(name);
    void entry.client.close();
  }, 1_000);
}

/**
 * Opens the local database and starts syncing: the leader tab runs the database worker, other
 * tabs query through it. Put it under the signed-in part of the app (the worker fetches sync
 * tokens with the session cookie).
 *
 * @example
 *   import { clientSchema } from '@/lib/sync/generated/client-schema';
 *   <SyncProvider schema={clientSchema} dbName={`lockstep-${userId}`}>
 *     <Todos />
 *   </SyncProvider>
 */
export function SyncProvider(props: SyncProviderProps) {
  const [value, setValue] = useState<SyncContextValue | null>(() => (props.client ? { client: props.client, db: syncDatabase(props.client) } : null));
  const name = props.dbName ?? 'lockstep';
  const given = props.client;

  latestRejected.set(name, props.onUploadRejected);

  useEffect(() => {
    if (given) {
      setValue({ client: given, db: syncDatabase(given) });
      return undefined;
    }
    const client = acquire(props);
    exposeForTests(client);
    setValue({ client, db: syncDatabase(client) });
    return () => release(name);
    // The schema and options are read once per database name.
  }, [given, name]);

  if (!value) return <>{props.fallback ?? null}</>;
  return <SyncContext.Provider value={value}>{props.children}</SyncContext.Provider>;
}
