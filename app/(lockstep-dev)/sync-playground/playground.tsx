'use client';

import { asc } from 'drizzle-orm';
import { useEffect, useState } from 'react';
import { uploadTransaction } from '@/app/actions/upload';
import { BrowserSyncClient } from '@/lib/sync/client/tabs/tab-client';
import { clientSchema, lists, todos } from '@/lib/sync/generated/client-schema';
import { SyncProvider, useLiveQuery, useRejectedWrites, useSyncClient, useSyncDatabase, useSyncStatus } from '@/lib/sync/react';

export function Playground({ userId }: { userId: string }) {
  return (
    <main>
      <h1>Sync playground</h1>
      <SyncProvider schema={clientSchema} dbName={`lockstep-${userId}`} upload={uploadTransaction} fallback={<p>Opening the local database…</p>}>
        <Status />
        <Lists />
        <AddTodo />
        <Rejected />
        <Todos />
      </SyncProvider>
    </main>
  );
}

function Status() {
  const status = useSyncStatus();
  const client = useSyncClient();
  useEffect(() => {
    // For poking at the client from the console (tests use window.__lockstep, set by SyncProvider).
    (window as unknown as { __lockstepClient?: unknown }).__lockstepClient = client;
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
      <dt>uploading</dt>
      <dd data-testid="status-uploading">{status ? String(status.uploading) : 'unknown'}</dd>
      <dt>pending uploads</dt>
      <dd data-testid="status-pending-uploads">{status?.pendingUploads ?? 'unknown'}</dd>
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

/** Adds a todo to the first list: a local write, applied at once and queued for upload. */
function AddTodo() {
  const db = useSyncDatabase();
  const { data: first } = useLiveQuery((d) => d.select({ id: lists.id }).from(lists).orderBy(asc(lists.name)).limit(1), []);
  const [description, setDescription] = useState('');
  const listId = first?.[0]?.id;
  return (
    <form
      onSubmit={(event) => {
        event.preventDefault();
        if (!listId || !description) return;
        // Drizzle builders run only when awaited or run(): `void builder` alone would do nothing.
        void db.insert(todos).values({ id: crypto.randomUUID(), listId, description, completed: false, createdAt: new Date().toISOString() }).run();
        setDescription('');
      }}
    >
      <input data-testid="new-todo" value={description} onChange={(e) => setDescription(e.target.value)} placeholder="New todo" />
      <button type="submit" disabled={!listId}>
        Add
      </button>
    </form>
  );
}

function Rejected() {
  const { rejected, dismiss } = useRejectedWrites();
  if (rejected.length === 0) return null;
  return (
    <ul data-testid="rejected">
      {rejected.map((r) => (
        <li key={r.transactionId}>
          {r.error.code}: {r.error.message} <button onClick={() => void dismiss([r.transactionId])}>Dismiss</button>
        </li>
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
