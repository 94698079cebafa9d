/* eslint-disable no-restricted-imports -- the integration tests run the real stream endpoint, replicator and uploader; nothing here is bundled */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uploadHandlers } from '@/app/actions/upload-handlers';
import type { UploadRequest, UploadResult } from '@/lib/sync/protocol';
import { streamFixture, type StreamFixture } from '@/lib/sync/server/__tests__/harness';
import { createUploader, type UploadFn } from '@/lib/sync/server/upload';
import type { SyncCore } from '../core';
import { openNodeDatabase } from '../db/open-node';
import { createNodeSyncClient, type NodeSyncClientOptions } from '../node';
import type { RejectedWrite } from '../writes/queue-store';
import type { UploadFunction } from '../writes/upload-loop';
import { storeContents, unionOfBuckets } from './helpers';

let f: StreamFixture;
let serverUpload: UploadFn;
type User = keyof StreamFixture['users'];

beforeAll(async () => {
  f = await streamFixture({ keepaliveMs: 500 });
  serverUpload = createUploader({ source: () => f.replication.app.pool, storage: () => f.replication.storage.pool, tables: uploadHandlers });
});
afterAll(async () => {
  await f?.close();
});

/** The real uploader for `user`, as the server action calls it for the session's user. */
const uploadAs = (user: User): UploadFunction => (request) => serverUpload({ id: f.users[user] }, request);

/** An upload that fails like a network without connectivity. */
const offline: UploadFunction = () => Promise.reject(new TypeError('fetch failed'));

async function clientFor(user: User, extra: Partial<NodeSyncClientOptions> = {}): Promise<SyncCore> {
  const userId = f.users[user];
  return createNodeSyncClient({
    baseUrl: f.baseUrl,
    fetchToken: async () => ({ token: await f.token(userId), expiresAt: Date.now() + 3_600_000 }),
    backoff: { minMs: 20, maxMs: 200 },
    upload: uploadAs(user),
    ...extra,
  });
}

async function expected(user: User): Promise<Record<string, string>> {
  await f.catchUp();
  return unionOfBuckets(await f.expectedFor(f.users[user]));
}

/** Waits until every local transaction is confirmed and the latest checkpoint in storage is applied. */
async function settle(client: SyncCore): Promise<void> {
  await client.engine.waitFor((s) => s.pendingUploads === 0, 20_000);
  await f.catchUp();
  const { rows } = await f.replication.storage.pool.query<{ op_id: string }>('SELECT max(op_id)::text AS op_id FROM lockstep.checkpoints');
  const latest = Number(rows[0]!.op_id);
  await client.engine.waitFor((s) => s.state === 'synced' && s.pendingUploads === 0 && Number(s.checkpoint?.lastOpId ?? 0) >= latest, 20_000);
}

async function listId(name: string): Promise<string> {
  const { rows } = await f.replication.app.pool.query<{ id: string }>('SELECT id FROM lists WHERE name = $1', [name]);
  return rows[0]!.id;
}

async function pgTodo(id: string): Promise<Record<string, unknown> | undefined> {
  const { rows } = await f.replication.app.pool.query('SELECT description, notes, completed, created_by FROM todos WHERE id = $1', [id]);
  return rows[0] as Record<string, unknown> | undefined;
}

const insertTodo = (client: SyncCore, id: string, list: string, description: string, extra: { createdBy?: string | null; completed?: unknown } = {}) =>
  client.execute('INSERT INTO todos (id, list_id, description, completed, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?)', [id, list, description, (extra.completed ?? 0) as number, extra.createdBy ?? null, new Date().toISOString()]);

describe('local writes and the upload queue against the real server', () => {
  it('applies writes locally at once, queues one entry per transaction (PUT, PATCH of changed columns, DELETE), and announces the tables', async () => {
    const client = await clientFor('alice', { upload: offline });
    client.start();
    await client.engine.waitFor((s) => s.hasSynced);
    const changed: string[][] = [];
    client.onTablesChanged((t) => changed.push(t));
    const groceries = await listId('Groceries');
    const a = randomUUID();
    const b = randomUUID();
    client.executeBatch([
      { sql: 'INSERT INTO todos (id, list_id, description, completed, created_at) VALUES (?, ?, ?, 0, ?)', params: [a, groceries, 'Tea', new Date().toISOString()] },
      { sql: 'INSERT INTO todos (id, list_id, description, completed, created_at) VALUES (?, ?, ?, 0, ?)', params: [b, groceries, 'Milk', new Date().toISOString()] },
    ]);
    expect(changed.at(-1)).toEqual(['todos']);
    client.execute('UPDATE todos SET completed = 1, description = description WHERE id = ?', [a]);
    client.execute('DELETE FROM todos WHERE id = ?', [b]);
    expect(client.query('SELECT description, completed FROM todos WHERE id IN (?, ?)', [a, b])).toEqual([{ description: 'Tea', completed: 1 }]);
    const queue = client.uploadQueue();
    expect(queue.map((e) => e.transaction.ops.map((o) => o.op))).toEqual([['PUT', 'PUT'], ['PATCH'], ['DELETE']]);
    expect(queue[1]!.transaction.ops[0]).toEqual({ op: 'PATCH', table: 'todos', id: a, data: { completed: 1 } });
    expect(new Set(queue.map((e) => e.transaction.id)).size).toBe(3);
    expect(client.status.pendingUploads).toBe(3);
    // Writes outside the sync client would miss the queue: refused.
    expect(() => client.db.run("UPDATE todos SET description = 'x' WHERE id = ?", [a])).toThrow(/through the sync client/);
    await client.close();
  });

  it('keeps writes made offline through a reload and uploads them when back online; the checkpoint then matches the server', async () => {
    const db = await openNodeDatabase();
    const first = await clientFor('alice', { db, upload: offline });
    first.start();
    await first.engine.waitFor((s) => s.hasSynced);
    const trip = await listId('Weekend trip');
    const id = randomUUID();
    insertTodo(first, id, trip, 'Pack the tent');
    first.execute("UPDATE todos SET notes = 'two poles' WHERE id = ?", [id]);
    await new Promise((r) => setTimeout(r, 100));
    expect(first.uploadQueue()).toHaveLength(2);
    expect(first.uploadQueue()[0]!.attempts).toBeGreaterThan(0);
    await first.stop();

    // "Reload": a new core on the same database file, now online.
    const second = await clientFor('alice', { db });
    expect(second.status.pendingUploads).toBe(2);
    expect(second.query('SELECT notes FROM todos WHERE id = ?', [id])).toEqual([{ notes: 'two poles' }]);
    second.start();
    await settle(second);
    expect(await pgTodo(id)).toMatchObject({ description: 'Pack the tent', notes: 'two poles', created_by: null });
    expect(second.uploadQueue()).toEqual([]);
    expect(storeContents(db)).toEqual(await expected('alice'));
    await second.close();
  });

  it('holds checkpoints until one covers the acknowledged writes: the optimistic state never flickers back', async () => {
    const client = await clientFor('bob');
    client.start();
    await settle(client);
    const work = await listId('Work');
    const id = randomUUID();
    const seen: string[] = [];
    client.onTablesChanged(() => seen.push(String(client.query('SELECT description FROM todos WHERE id = ?', [id])[0]?.description ?? '-')));
    insertTodo(client, id, work, 'v1');
    for (let i = 2; i <= 5; i++) client.execute('UPDATE todos SET description = ? WHERE id = ?', [`v${i}`, id]);
    // Other changes keep checkpoints coming meanwhile.
    for (let i = 0; i < 3; i++) await f.replication.app.pool.query("INSERT INTO todos (list_id, description) VALUES ($1, 'from Postgres')", [work]);
    await settle(client);
    expect(seen.filter((v) => v !== '-').map((v) => Number(v.slice(1)))).toEqual([...seen.filter((v) => v !== '-').map((v) => Number(v.slice(1)))].sort());
    expect(seen.at(-1)).toBe('v5');
    expect((await pgTodo(id))!.description).toBe('v5');
    expect(storeContents(client.db)).toEqual(await expected('bob'));
    await client.close();
  });

  it('reverts a rejected write at once, records it and calls onUploadRejected; later writes still go', async () => {
    const rejected: RejectedWrite[] = [];
    const client = await clientFor('carol', { onUploadRejected: (r) => rejected.push(r) });
    client.start();
    await settle(client);
    const before = storeContents(client.db);
    // A todo someone else created: setting created_by to Carol is a change the rules refuse.
    const todo = client.query<{ id: string; description: string }>('SELECT id, description FROM todos WHERE created_by <> ? ORDER BY id LIMIT 1', [f.users.carol])[0]!;
    const { rows } = await f.replication.app.pool.query<{ description: string }>('SELECT description FROM todos WHERE id = $1', [todo.id]);
    // created_by cannot be changed: the demo's rules refuse it.
    client.execute("UPDATE todos SET description = 'mine now', created_by = ? WHERE id = ?", [f.users.carol, todo.id]);
    expect(client.query('SELECT description FROM todos WHERE id = ?', [todo.id])).toEqual([{ description: 'mine now' }]);
    const later = randomUUID();
    insertTodo(client, later, client.query<{ list_id: string }>('SELECT list_id FROM todos WHERE id = ?', [todo.id])[0]!.list_id, 'still goes');
    // The status may not show the queued entries yet when settle() first looks: wait for the
    // upload's answer itself (bounded), then for the checkpoint that follows.
    for (const deadline = Date.now() + 20_000; rejected.length === 0 && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 20));
    await settle(client);
    expect(rejected).toHaveLength(1);
    expect(rejected[0]!.error.code).toBe('UPLOAD_FORBIDDEN');
    expect(client.rejectedWrites()).toEqual(rejected);
    expect(client.query('SELECT description FROM todos WHERE id = ?', [todo.id])).toEqual([{ description: todo.description }]);
    expect((await pgTodo(todo.id))!.description).toBe(rows[0]!.description);
    expect(await pgTodo(later)).toMatchObject({ description: 'still goes' });
    expect(Object.keys(storeContents(client.db)).length).toBe(Object.keys(before).length + 1);
    expect(storeContents(client.db)).toEqual(await expected('carol'));
    expect(client.dismissRejected()).toBe(1);
    expect(client.rejectedWrites()).toEqual([]);
    await client.close();
  });

  it('applies a transaction once when its response was lost and it was sent again', async () => {
    const sent: Array<{ request: UploadRequest; result: UploadResult }> = [];
    let dropped = false;
    const client = await clientFor('alice', {
      upload: async (request) => {
        const result = await uploadAs('alice')(request);
        sent.push({ request, result });
        if (!dropped) {
          dropped = true;
          throw new TypeError('network connection lost');
        }
        return result;
      },
    });
    client.start();
    await settle(client);
    const groceries = await listId('Groceries');
    const id = randomUUID();
    insertTodo(client, id, groceries, 'once');
    await settle(client);
    expect(sent).toHaveLength(2);
    expect(sent.map((s) => s.request.transactions.map((t) => t.id))).toEqual([[sent[0]!.request.transactions[0]!.id], [sent[0]!.request.transactions[0]!.id]]);
    expect(sent.map((s) => s.result)).toMatchObject([{ status: 'results', results: [{ status: 'applied', replayed: false }] }, { status: 'results', results: [{ status: 'applied', replayed: true }] }]);
    const { rows } = await f.replication.storage.pool.query("SELECT count(*)::int AS n FROM lockstep.upload_transactions WHERE transaction_id = $1 AND state = 'applied'", [sent[0]!.request.transactions[0]!.id]);
    expect(rows[0]).toEqual({ n: 1 });
    expect(await pgTodo(id)).toMatchObject({ description: 'once' });
    await client.close();
  });

  it('two clients editing one todo converge to the server’s state (last write wins per column)', async () => {
    let releaseAlice!: () => void;
    let releaseBob!: () => void;
    const gate = (user: User, wait: Promise<void>): UploadFunction => async (request) => {
      await wait;
      return uploadAs(user)(request);
    };
    const alice = await clientFor('alice', { upload: gate('alice', new Promise((r) => (releaseAlice = r))) });
    const bob = await clientFor('bob', { upload: gate('bob', new Promise((r) => (releaseBob = r))) });
    alice.start();
    bob.start();
    await settle(alice);
    await settle(bob);
    const work = await listId('Work');
    const { rows } = await f.replication.app.pool.query<{ id: string }>("INSERT INTO todos (list_id, description) VALUES ($1, 'shared') RETURNING id", [work]);
    const id = rows[0]!.id;
    await settle(alice);
    await settle(bob);
    alice.execute("UPDATE todos SET description = 'Alice''s', notes = 'from Alice' WHERE id = ?", [id]);
    bob.execute("UPDATE todos SET description = 'Bob''s' WHERE id = ?", [id]);
    releaseAlice();
    await alice.engine.waitFor((s) => s.pendingUploads === 0 || s.checkpoint !== null);
    await settle(alice);
    releaseBob();
    await settle(bob);
    await settle(alice);
    expect(await pgTodo(id)).toMatchObject({ description: "Bob's", notes: 'from Alice' });
    const row = (c: SyncCore) => c.query('SELECT description, notes FROM todos WHERE id = ?', [id]);
    expect(row(alice)).toEqual([{ description: "Bob's", notes: 'from Alice' }]);
    expect(row(bob)).toEqual(row(alice));
    expect(storeContents(alice.db)).toEqual(await expected('alice'));
    expect(storeContents(bob.db)).toEqual(await expected('bob'));
    await alice.close();
    await bob.close();
  });

  it('refuses attacks through the client path, writes nothing, and the queue is not stuck', async () => {
    const rejected: RejectedWrite[] = [];
    const client = await clientFor('carol', { onUploadRejected: (r) => rejected.push(r) });
    client.start();
    await settle(client);
    const groceries = await listId('Groceries'); // Alice's, Carol is not a member
    const trip = await listId('Weekend trip'); // Carol is a member
    const intoOtherList = randomUUID();
    const forged = randomUUID();
    const malformed = randomUUID();
    insertTodo(client, intoOtherList, groceries, 'into a list that is not mine');
    insertTodo(client, forged, trip, 'as Alice', { createdBy: f.users.alice });
    insertTodo(client, malformed, trip, 'completed is not a boolean', { completed: 'yes please' });
    client.execute('UPDATE todos SET list_id = ? WHERE id = (SELECT id FROM todos WHERE list_id = ? LIMIT 1)', [groceries, trip]);
    const ok = randomUUID();
    insertTodo(client, ok, trip, 'legitimate, after the attacks');
    await settle(client);
    expect(rejected.map((r) => r.error.code)).toEqual(['UPLOAD_FORBIDDEN', 'UPLOAD_FORBIDDEN', 'UPLOAD_INVALID_ROW', 'UPLOAD_FORBIDDEN']);
    for (const id of [intoOtherList, forged, malformed]) expect(await pgTodo(id)).toBeUndefined();
    const { rows } = await f.replication.app.pool.query('SELECT count(*)::int AS n FROM todos WHERE list_id = $1 AND created_by = $2', [groceries, f.users.carol]);
    expect(rows[0]).toEqual({ n: 0 });
    expect(await pgTodo(ok)).toMatchObject({ description: 'legitimate, after the attacks', created_by: null });
    expect(storeContents(client.db)).toEqual(await expected('carol'));
    // A payload that is not even an upload request, sent straight to the server action's uploader.
    expect(await serverUpload({ id: f.users.carol }, { client_id: 'x', transaction: { id: 'not-a-uuid', ops: [{ op: 'DROP', table: 'todos' }] } })).toMatchObject({ status: 'rejected', error: { code: 'UPLOAD_INVALID_REQUEST' } });
    await client.close();
  });
});
