import { describe, expect, it } from 'vitest';
import { clientSchema } from '@/lib/sync/generated/client-schema';
import { LocalSyncClient } from '@/lib/sync/client/client';
import { SyncCore } from '@/lib/sync/client/core';
import { openNodeDatabase } from '@/lib/sync/client/db/open-node';
import { LiveQueryStore, LOADING, sameData, type LiveQuerySnapshot } from '../live-query-store';

async function openClient() {
  const core = SyncCore.open({ db: await openNodeDatabase(), schema: clientSchema, baseUrl: 'http://x.invalid', fetchToken: async () => ({ token: 't', expiresAt: Date.now() + 60_000 }) });
  return new LocalSyncClient(core);
}

const insertTodo = 'INSERT INTO todos (id, list_id, description, completed, created_at) VALUES (?, ?, ?, 0, ?)';

/** Resolves with the next snapshot the store publishes. */
function nextChange<T>(store: LiveQueryStore<T>): Promise<LiveQuerySnapshot<T>> {
  return new Promise((resolve) => {
    const off = store.subscribe(() => {
      off();
      resolve(store.getSnapshot());
    });
  });
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

describe('LiveQueryStore (useLiveQuery)', () => {
  it('loads, re-runs when a table it reads changes, and keeps the snapshot when the result is the same', async () => {
    const client = await openClient();
    const sql = 'SELECT id, description FROM todos WHERE completed = 0 ORDER BY description';
    let runs = 0;
    const store = new LiveQueryStore(client, sql, () => {
      runs++;
      return client.query(sql);
    });
    expect(store.getSnapshot()).toBe(LOADING);
    let changes = 0;
    const first = nextChange(store);
    const off = store.subscribe(() => changes++);
    expect((await first).data).toEqual([]);

    await client.execute(insertTodo, ['t1', 'l1', 'Tea', '2026-01-01']);
    await settle();
    expect(store.getSnapshot()).toEqual({ data: [{ id: 't1', description: 'Tea' }], error: undefined, loading: false });
    const shown = store.getSnapshot();
    const changesBefore = changes;
    const runsBefore = runs;

    // A write that leaves the result as it was: the query ran again, the snapshot (and so React) did not change.
    await client.execute('UPDATE todos SET notes = ? WHERE id = ?', ['a note', 't1']);
    await settle();
    expect(runs).toBe(runsBefore + 1);
    expect(store.getSnapshot()).toBe(shown);
    expect(changes).toBe(changesBefore);

    // A table the query does not read: no run at all.
    await client.execute('INSERT INTO lists (id, name, owner_id, created_at) VALUES (?, ?, ?, ?)', ['l1', 'Groceries', 'u1', '2026-01-01']);
    await settle();
    expect(runs).toBe(runsBefore + 1);

    // After the last unsubscribe nothing runs.
    off();
    await client.execute(insertTodo, ['t2', 'l1', 'Bread', '2026-01-01']);
    await settle();
    expect(runs).toBe(runsBefore + 1);
    await client.close();
  });

  it('collapses re-runs that pile up while one is in flight, and keeps the data through an error', async () => {
    const client = await openClient();
    const sql = 'SELECT count(*) AS n FROM todos';
    let runs = 0;
    let fail = false;
    const store = new LiveQueryStore(client, sql, async () => {
      runs++;
      await settle();
      if (fail) throw new Error('query failed');
      return client.query<{ n: number }>(sql);
    });
    const off = store.subscribe(() => {});
    await settle();
    await settle();
    expect(store.getSnapshot().data).toEqual([{ n: 0 }]);
    const runsBefore = runs;
    // Three writes while no run is in flight: the first starts one, the other two collapse into one more.
    await client.execute(insertTodo, ['a', 'l1', 'A', '2026-01-01']);
    await client.execute(insertTodo, ['b', 'l1', 'B', '2026-01-01']);
    await client.execute(insertTodo, ['c', 'l1', 'C', '2026-01-01']);
    await settle();
    await settle();
    await settle();
    expect(runs).toBe(runsBefore + 2);
    expect(store.getSnapshot().data).toEqual([{ n: 3 }]);

    fail = true;
    await client.execute(insertTodo, ['d', 'l1', 'D', '2026-01-01']);
    await settle();
    await settle();
    expect(store.getSnapshot()).toMatchObject({ data: [{ n: 3 }], loading: false });
    expect(store.getSnapshot().error?.message).toBe('query failed');
    off();
    await client.close();
  });
});

describe('sameData', () => {
  it('compares rows by value, and anything it does not know as different', () => {
    expect(sameData([{ a: 1, b: 'x', c: null }], [{ a: 1, b: 'x', c: null }])).toBe(true);
    expect(sameData([{ a: 1 }], [{ a: 2 }])).toBe(false);
    expect(sameData([{ a: 1 }], [{ a: 1, b: undefined }])).toBe(false);
    expect(sameData([[1, 'x']], [[1, 'x']])).toBe(true);
    expect(sameData([[1, 'x']], [[1, 'x', 2]])).toBe(false);
    expect(sameData({ list: { todos: [{ id: 't1' }] } }, { list: { todos: [{ id: 't1' }] } })).toBe(true);
    expect(sameData(new Uint8Array([1, 2]), new Uint8Array([1, 2]))).toBe(true);
    expect(sameData(new Uint8Array([1, 2]), new Uint8Array([1, 3]))).toBe(false);
    expect(sameData(new Date(5), new Date(5))).toBe(true);
    expect(sameData(10n, 10n)).toBe(true);
    expect(sameData(Number.NaN, Number.NaN)).toBe(true);
    expect(sameData(new Map(), new Map())).toBe(false);
    expect(sameData([], undefined)).toBe(false);
  });
});
