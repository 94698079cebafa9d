import { randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listMembers, lists, todos, users } from '@/lib/db/schema';
import { seedDemoData } from '@/lib/db/seed';
import { migrateStorage } from '@/lib/sync/storage';
import { createUploader, type UploadFn } from '@/lib/sync/server/upload';
import type { UploadResult } from '@/lib/sync/protocol';
import { createTestDatabase, type TestDatabase } from '@/test/db';
import { uploadHandlers } from './upload-handlers';

let app: TestDatabase;
let storage: TestDatabase;
let upload: UploadFn;
let alice: string;
let bob: string;
let carol: string;
let groceries: string; // Alice's, not shared
let trip: string; // Alice's, shared with Bob and Carol
let work: string; // Bob's, shared with Alice

const tx = (ops: unknown[], id: string = randomUUID()) => ({ client_id: 'client-1', transaction: { id, ops } });
const applied = (r: UploadResult) => {
  expect(r, JSON.stringify(r)).toMatchObject({ status: 'applied' });
  return r as Extract<UploadResult, { status: 'applied' }>;
};
const rejectedWith = (r: UploadResult, code: string) => expect(r).toMatchObject({ status: 'rejected', error: { code } });
const todo = async (id: string) => (await app.db.select().from(todos).where(eq(todos.id, id)))[0];

beforeAll(async () => {
  app = await createTestDatabase({ prefix: 'upl' });
  storage = await createTestDatabase({ prefix: 'uplstore', migrate: false });
  await migrateStorage(storage.url);
  await seedDemoData(app.url);
  upload = createUploader({ source: () => app.pool, storage: () => storage.pool, tables: uploadHandlers });
  const byEmail = async (email: string) => (await app.db.select().from(users).where(eq(users.email, email)))[0]!.id;
  [alice, bob, carol] = [await byEmail('alice@example.com'), await byEmail('bob@example.com'), await byEmail('carol@example.com')];
  const byName = async (name: string) => (await app.db.select().from(lists).where(eq(lists.name, name)))[0]!.id;
  [groceries, trip, work] = [await byName('Groceries'), await byName('Weekend trip'), await byName('Work')];
});
afterAll(async () => {
  await storage?.drop();
  await app?.drop();
});

describe('uploads through the demo handlers', () => {
  it('applies PUT, PATCH and DELETE in one transaction and answers with a write checkpoint', async () => {
    const id = randomUUID();
    const result = applied(await upload({ id: alice }, tx([
      { op: 'PUT', table: 'todos', id, data: { id, list_id: groceries, description: 'Tea', completed: 0, notes: null } },
      { op: 'PATCH', table: 'todos', id, data: { completed: 1, completed_at: '2026-11-22T10:00:00.000000Z' } },
    ])));
    expect(Number(result.write_checkpoint)).toBeGreaterThan(0);
    expect(await todo(id)).toMatchObject({ description: 'Tea', completed: true, createdBy: alice, completedAt: new Date('2026-11-22T10:00:00Z') });
    applied(await upload({ id: alice }, tx([{ op: 'DELETE', table: 'todos', id }])));
    expect(await todo(id)).toBeUndefined();
  });

  it('applies a retried transaction once, even after someone else changed the row in between', async () => {
    const id = randomUUID();
    applied(await upload({ id: alice }, tx([{ op: 'PUT', table: 'todos', id, data: { id, list_id: trip, description: 'v1' } }])));
    const retried = tx([{ op: 'PATCH', table: 'todos', id, data: { description: 'from Alice' } }]);
    applied(await upload({ id: alice }, retried));
    applied(await upload({ id: bob }, tx([{ op: 'PATCH', table: 'todos', id, data: { description: 'from Bob, later' } }])));
    // Alice's response was lost; her client sends the same transaction again.
    expect(await upload({ id: alice }, retried)).toMatchObject({ status: 'applied', replayed: true });
    expect((await todo(id))!.description).toBe('from Bob, later');
  });

  it('does not apply again when the earlier attempt committed but crashed before recording it', async () => {
    const id = randomUUID();
    applied(await upload({ id: alice }, tx([{ op: 'PUT', table: 'todos', id, data: { id, list_id: trip, description: 'v1' } }])));
    const first = tx([{ op: 'PATCH', table: 'todos', id, data: { description: 'first attempt' } }]);
    applied(await upload({ id: alice }, first));
    // Put the record back as it was between the app commit and its settling.
    await storage.pool.query("UPDATE lockstep.upload_transactions SET state = 'pending', write_checkpoint = NULL WHERE transaction_id = $1", [first.transaction.id]);
    await app.pool.query("UPDATE todos SET description = 'changed since' WHERE id = $1", [id]);
    expect(await upload({ id: alice }, first)).toMatchObject({ status: 'applied', replayed: true });
    expect((await todo(id))!.description).toBe('changed since');
  });

  it('applies a transaction whose earlier attempt aborted before commit', async () => {
    const id = randomUUID();
    const retried = tx([{ op: 'PUT', table: 'todos', id, data: { id, list_id: trip, description: 'second try' } }]);
    // A pending record whose app transaction rolled back (the process died before COMMIT).
    const client = await app.pool.connect();
    await client.query('BEGIN');
    const xid = (await client.query<{ xid: string }>('SELECT pg_current_xact_id()::text AS xid')).rows[0]!.xid;
    await client.query('ROLLBACK');
    client.release();
    await storage.pool.query("INSERT INTO lockstep.upload_transactions (transaction_id, user_id, client_id, state, app_xid) VALUES ($1, $2, 'client-1', 'pending', $3)", [retried.transaction.id, alice, xid]);
    expect(await upload({ id: alice }, retried)).toMatchObject({ status: 'applied', replayed: false });
    expect((await todo(id))!.description).toBe('second try');
  });

  it('two concurrent attempts of one transaction apply it once', async () => {
    // A slow handler keeps the first attempt in flight while the second arrives.
    const slow = createUploader({
      source: () => app.pool,
      storage: () => storage.pool,
      tables: { ...uploadHandlers, todos: { ...uploadHandlers.todos, apply: async (...args) => (await new Promise((r) => setTimeout(r, 200)), uploadHandlers.todos.apply(...args)) } },
    });
    const id = randomUUID();
    const once = tx([{ op: 'PUT', table: 'todos', id, data: { id, list_id: trip, description: 'once' } }]);
    const results = await Promise.all([slow({ id: alice }, once), new Promise((r) => setTimeout(r, 50)).then(() => slow({ id: alice }, once))]);
    expect(results.map((r) => r.status).sort()).toEqual(['applied', 'applied']);
    expect(results.filter((r) => r.status === 'applied' && r.replayed)).toHaveLength(1);
  });
});

describe('attacks: refused, nothing written, the queue not stuck', () => {
  it('a member of one list writing into a list they are not in', async () => {
    const id = randomUUID();
    rejectedWith(await upload({ id: bob }, tx([{ op: 'PUT', table: 'todos', id, data: { id, list_id: groceries, description: 'sneaky' } }])), 'UPLOAD_FORBIDDEN');
    expect(await todo(id)).toBeUndefined();
  });

  it('moving a todo out of a list into one the user cannot write', async () => {
    const [bobs] = await app.db.select().from(todos).where(eq(todos.listId, work)).limit(1);
    rejectedWith(await upload({ id: carol }, tx([{ op: 'PATCH', table: 'todos', id: bobs!.id, data: { list_id: trip } }])), 'UPLOAD_FORBIDDEN');
    expect((await todo(bobs!.id))!.listId).toBe(work);
  });

  it('a forged user id in a row', async () => {
    const id = randomUUID();
    rejectedWith(await upload({ id: bob }, tx([{ op: 'PUT', table: 'todos', id, data: { id, list_id: trip, description: 'as Alice', created_by: alice } }])), 'UPLOAD_FORBIDDEN');
    const listId = randomUUID();
    rejectedWith(await upload({ id: bob }, tx([{ op: 'PUT', table: 'lists', id: listId, data: { id: listId, name: "Alice's?", owner_id: alice } }])), 'UPLOAD_FORBIDDEN');
    rejectedWith(await upload({ id: bob }, tx([{ op: 'PATCH', table: 'users', id: alice, data: { name: 'hacked' } }])), 'UPLOAD_FORBIDDEN');
    expect(await todo(id)).toBeUndefined();
    expect((await app.db.select().from(users).where(eq(users.id, alice)))[0]!.name).toBe('Alice');
  });

  it('a body whose primary key disagrees with the op id', async () => {
    const [aliceTodo] = await app.db.select().from(todos).where(eq(todos.listId, groceries)).limit(1);
    const id = randomUUID();
    rejectedWith(await upload({ id: bob }, tx([{ op: 'PUT', table: 'todos', id, data: { id: aliceTodo!.id, list_id: trip, description: 'overwrite' } }])), 'UPLOAD_INVALID_ROW');
    expect((await todo(aliceTodo!.id))!.description).toBe(aliceTodo!.description);
  });

  it('one forbidden op refuses the whole transaction', async () => {
    const good = randomUUID();
    const bad = randomUUID();
    rejectedWith(await upload({ id: bob }, tx([
      { op: 'PUT', table: 'todos', id: good, data: { id: good, list_id: trip, description: 'fine' } },
      { op: 'PUT', table: 'todos', id: bad, data: { id: bad, list_id: groceries, description: 'not fine' } },
    ])), 'UPLOAD_FORBIDDEN');
    expect(await todo(good)).toBeUndefined();
  });

  it('malformed payloads, unknown tables and columns, bad values', async () => {
    rejectedWith(await upload({ id: alice }, { nonsense: true }), 'UPLOAD_INVALID_REQUEST');
    rejectedWith(await upload({ id: alice }, tx([{ op: 'DROP', table: 'todos', id: 'x' }])), 'UPLOAD_INVALID_REQUEST');
    rejectedWith(await upload({ id: alice }, { client_id: 'c', transaction: { id: 'not-a-uuid', ops: [] } }), 'UPLOAD_INVALID_REQUEST');
    rejectedWith(await upload({ id: alice }, tx([{ op: 'DELETE', table: 'announcements', id: randomUUID() }])), 'UPLOAD_UNKNOWN_TABLE');
    rejectedWith(await upload({ id: alice }, tx([{ op: 'DELETE', table: '__proto__', id: randomUUID() }])), 'UPLOAD_UNKNOWN_TABLE');
    const id = randomUUID();
    rejectedWith(await upload({ id: alice }, tx([{ op: 'PUT', table: 'todos', id, data: { id, list_id: trip, description: 'x', password_hash: 'x' } }])), 'UPLOAD_INVALID_ROW');
    rejectedWith(await upload({ id: alice }, tx([{ op: 'PUT', table: 'todos', id, data: { id, list_id: trip, description: 'x', completed: 'yes' } }])), 'UPLOAD_INVALID_ROW');
    rejectedWith(await upload({ id: alice }, tx([{ op: 'PUT', table: 'todos', id, data: { id, list_id: trip } }])), 'UPLOAD_INVALID_ROW');
    rejectedWith(await upload({ id: alice }, tx([{ op: 'DELETE', table: 'todos', id: 'not-a-uuid' }])), 'UPLOAD_INVALID_ROW');
    expect(await todo(id)).toBeUndefined();
  });

  it('no user, or a transaction id another user already used', async () => {
    rejectedWith(await upload(null, tx([{ op: 'DELETE', table: 'todos', id: randomUUID() }])), 'AUTH_NOT_SIGNED_IN');
    const id = randomUUID();
    const taken = tx([{ op: 'PUT', table: 'todos', id, data: { id, list_id: trip, description: 'mine' } }]);
    applied(await upload({ id: alice }, taken));
    rejectedWith(await upload({ id: bob }, taken), 'UPLOAD_ID_REUSED');
  });

  it('a rejected transaction stays rejected when retried, and the next one goes through', async () => {
    const id = randomUUID();
    const refused = tx([{ op: 'PUT', table: 'todos', id, data: { id, list_id: groceries, description: 'no' } }]);
    rejectedWith(await upload({ id: bob }, refused), 'UPLOAD_FORBIDDEN');
    rejectedWith(await upload({ id: bob }, refused), 'UPLOAD_FORBIDDEN');
    applied(await upload({ id: bob }, tx([{ op: 'PUT', table: 'todos', id, data: { id, list_id: work, description: 'yes' } }])));
  });

  it('answers retry, not rejected, when the database is unreachable', async () => {
    const dead = new pg.Pool({ connectionString: 'postgres://postgres:x@127.0.0.1:1/none', connectionTimeoutMillis: 500 });
    const offline = createUploader({ source: () => dead, storage: () => storage.pool, tables: uploadHandlers });
    const result = await offline({ id: alice }, tx([{ op: 'DELETE', table: 'todos', id: randomUUID() }]));
    expect(result.status).toBe('retry');
    await dead.end();
  });

  it('lets a member leave a list but not remove others', async () => {
    const key = JSON.stringify([trip, carol]);
    rejectedWith(await upload({ id: carol }, tx([{ op: 'DELETE', table: 'list_members', id: JSON.stringify([work, alice]) }])), 'UPLOAD_FORBIDDEN');
    applied(await upload({ id: carol }, tx([{ op: 'DELETE', table: 'list_members', id: key }])));
    expect(await app.db.select().from(listMembers).where(eq(listMembers.userId, carol))).toEqual([]);
  });
});
