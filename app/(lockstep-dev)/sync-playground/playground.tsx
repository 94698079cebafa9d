'use client';

import { asc } from 'drizzle-orm';
import { useEffect } from 'react';
import { BrowserSyncClient } from '@/lib/sync/client/tabs/tab-client';
import { clientSchema, lists } from '@/lib/sync/generated/client-schema';
import { SyncProvider, useLiveQuery, useSyncClient, useSyncStatus } from '@/lib/sync/react';

export function Playground({ userId }: { userId: string }) {
  return (
    <main>
      <h1>Sync playground</h1>
      <SyncProvider schema={clientSchema} dbName={`lockstep-${userId}`} fallback={<p>Opening the local database…</p>}>
        <Status />
        <Lists />
        <Todos />
      </SyncProvider>
    </main>
  );
}

function Status() {
  const status = useSyncStatus();
  const client = useSyncClient();
  useEffect(() => {
    // For e2e tests and the browser benchmark.
    (window as unknown as { __lockstep?: unknown }).__lockstep = client;
  }, [client]);
  const leader = client instanceof BrowserSyncClient ? client.isLeader : true;
  return (
    <dl data-testid="status">
      <dt>state</dt>
      <dd data-testid="status-state">{status?.state ?? 'unknown'}</dd>
      <dt>storage</dt>
      <dd data-testid="status-storage">{status?.storage ?? 'unknown'}</dd>
      <dt>synced</dt>
      <dd data-testid="status-has-synced">{status ? String(status.hasSynced) : 'unknown'}</dd>
      <dt>last synced</dt>
      <dd data-testid="status-last-synced">{status?.lastSyncedAt ? new Date(status.lastSyncedAt).toISOString() : 'never'}</dd>
      <dt>progress</dt>
      <dd data-testid="status-progress">{status?.downloadProgress ? `${status.downloadProgress.downloadedOps}/${status.downloadProgress.totalOps}` : '-'}</dd>
      <dt>leader tab</dt>
      <dd data-testid="status-leader">{String(leader)}</dd>
      <dt>error</dt>
      <dd data-testid="status-error">{status?.downloadError ? `${status.downloadError.code}: ${status.downloadError.message}` : '-'}</dd>
    </dl>
  );
}

function Lists() {
  const { data, error, loading } = useLiveQuery((db) => db.select().from(lists).orderBy(asc(lists.name)), []);
  if (error) return <p role="alert">{error.message}</p>;
  if (loading) return <p>Loading lists…</p>;
  return (
    <ul data-testid="lists">
      {data?.map((list) => (
        <li key={list.id}>{list.name}</li>
      ))}
    </ul>
  );
}

function Todos() {
  const { data } = useLiveQuery<{ id: string; description: string; completed: number }>('SELECT id, description, completed FROM todos ORDER BY description');
  return (
    <section>
      <p>
        Todos: <span data-testid="todo-count">{data?.length ?? '…'}</span>
      </p>
      <ul data-testid="todos">
        {data?.map((t) => (
          <li key={t.id}>{t.description}</li>
        ))}
      </ul>
    </section>
  );
}
