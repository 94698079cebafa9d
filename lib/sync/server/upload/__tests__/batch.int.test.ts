import { randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uploadHandlers } from '@/app/actions/upload-handlers';
import { lists, todos, users } from '@/lib/db/schema';
import { seedDemoData } from '@/lib/db/seed';
import { UploadLimits, type UploadResult, type UploadTransactionResult } from '@/lib/sync/protocol';
import { migrateStorage } from '@/lib/sync/storage';
import { createTestDatabase, type TestDatabase } from '@/test/db';
import { createUploader, type UploadFn } from '../index';

let app: TestDatabase;
let storage: TestDatabase;
let upload: UploadFn;
let alice: string;
let bob: string;
let groceries: string; // Alice's, not shared with Bob
let work: string; // Bob's, shared with Alice

const put = (listId: string, description: string, id: string = randomUUID()) => ({ id: randomUUID(), ops: [{ op: 'PUT', table: 'todos', id, data: { id, list_id: listId, description } }] });
const batch = (transactions: unknown[]) => ({ client_id: 'client-b', transactions });
const results = (r: UploadResult): UploadTransactionResult[] => {
  expect(r, JSON.stringify(r)).toMatchObject({ status: 'results' });
  return (r as Extract<UploadResult, { status: 'results' }>).results;
};
const todo = async (id: string) => (await app.db.select().from(todos).where(eq(todos.id, id)))[0];
const records = async (ids: string[]) =>
  (await storage.pool.query<{ transaction_id: string; state: string }>('SELECT transaction_id, state FROM lockstep.upload_transactions WHERE transaction_id = ANY($1::uuid[]) ORDER BY transaction_id', [ids])).rows;

beforeAll(async () => {
  app = await createTestDatabase({ prefix: 'uplb' });
  storage = await createTestDatabase({ prefix: 'uplbstore', migrate: false });
  await migrateStorage(storage.url);
  await seedDemoData(app.url);
  upload = createUploader({ source: () => app.pool, storage: () => storage.pool, tables: uploadHandlers });
  const byEmail = async (email: string) => (await app.db.select().from(users).where(eq(users.email, email)))[0]!.id;
  [alice, bob] = [await byEmail('alice@example.com'), await byEmail('bob@example.com')];
  const byName = async (name: string) => (await app.db.select().from(lists).where(eq(lists.name, name)))[0]!.id;
  [groceries, work] = [await byName('Groceries'), await byName('Work')];
});
afterAll(async () => {
  await storage?.drop();
  await app?.drop();
});

describe('batches of uploaded transactions', () => {
  it('answers each transaction in order: applied, rejected, replayed; one write checkpoint covers the applied ones', async () => {
    const earlier = put(work, 'applied before');
    expect(results(await upload({ id: bob }, batch([earlier])))[0]).toMatchObject({ status: 'applied', replayed: false });
    const first = put(work, 'first');
    const forbidden = put(groceries, 'not my list');
    const badRow = { id: randomUUID(), ops: [{ op: 'PUT', table: 'todos', id: randomUUID(), data: { list_id: work } }] };
    const last = put(work, 'last');
    const answer = await upload({ id: bob }, batch([first, forbidden, earlier, badRow, last]));
    const r = results(answer);
    expect(r.map((x) => x.status)).toEqual(['applied', 'rejected', 'applied', 'rejected', 'applied']);
    expect(r[1]).toMatchObject({ error: { code: 'UPLOAD_FORBIDDEN' } });
    expect(r[2]).toMatchObject({ replayed: true });
    expect(r[3]).toMatchObject({ error: { code: 'UPLOAD_INVALID_ROW' } });
    const applied = r.filter((x): x is Extract<UploadTransactionResult, { status: 'applied' }> => x.status === 'applied');
    // The ones applied now share the batch's write checkpoint, newer than the replayed one's.
    expect(applied[0]!.write_checkpoint).toBe(applied[2]!.write_checkpoint);
    expect(BigInt(applied[1]!.write_checkpoint)).toBeLessThan(BigInt(applied[0]!.write_checkpoint));
    expect((answer as { write_checkpoint: string }).write_checkpoint).toBe(applied[0]!.write_checkpoint);
    expect(await todo(first.ops[0]!.id)).toMatchObject({ description: 'first' });
    expect(await todo(last.ops[0]!.id)).toMatchObject({ description: 'last' });
    expect(await todo(forbidden.ops[0]!.id)).toBeUndefined();
    const { rows } = await app.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM todos WHERE description = 'applied before'");
    expect(rows[0]).toEqual({ n: 1 });
    // The whole batch again (its answer was lost): nothing is applied twice, the answers are the same.
    const again = results(await upload({ id: bob }, batch([first, forbidden, earlier, badRow, last])));
    expect(again.map((x) => x.status)).toEqual(['applied', 'rejected', 'applied', 'rejected', 'applied']);
    expect(again.filter((x) => x.status === 'applied').every((x) => x.replayed)).toBe(true);
    expect((await records([first.id, forbidden.id, badRow.id, last.id])).map((x) => x.state).sort()).toEqual(['applied', 'applied', 'rejected', 'rejected']);
  });

  it('applies each transaction atomically: a rejected one leaves nothing, the ones around it stay', async () => {
    const ok1 = put(work, 'around 1');
    const good = randomUUID();
    const half = {
      id: randomUUID(),
      ops: [
        { op: 'PUT', table: 'todos', id: good, data: { id: good, list_id: work, description: 'would be fine alone' } },
        { op: 'PUT', table: 'todos', id: randomUUID(), data: { list_id: groceries, description: 'refused' } },
      ],
    };
    const ok2 = put(work, 'around 2');
    expect(results(await upload({ id: bob }, batch([ok1, half, ok2]))).map((x) => x.status)).toEqual(['applied', 'rejected', 'applied']);
    expect(await todo(good)).toBeUndefined();
    expect(await todo(ok1.ops[0]!.id)).toBeDefined();
    expect(await todo(ok2.ops[0]!.id)).toBeDefined();
  });

  it('a later transaction sees the earlier ones of its batch (a list, then a todo in it)', async () => {
    const listId = randomUUID();
    const makeList = { id: randomUUID(), ops: [{ op: 'PUT', table: 'lists', id: listId, data: { id: listId, name: 'Made in a batch', owner_id: alice } }] };
    const intoIt = put(listId, 'in the new list');
    const r = results(await upload({ id: alice }, batch([makeList, intoIt])));
    expect(r.map((x) => x.status), JSON.stringify(r)).toEqual(['applied', 'applied']);
    expect(await todo(intoIt.ops[0]!.id)).toMatchObject({ listId });
  });

  it('stops at a retryable failure: the ones before commit, that one and the rest are not applied and stay unrecorded', async () => {
    let failing = true;
    const flaky = createUploader({
      source: () => app.pool,
      storage: () => storage.pool,
      tables: {
        ...uploadHandlers,
        todos: {
          ...uploadHandlers.todos,
          apply: async (user, tx, op) => {
            if (failing && op.op === 'PUT' && op.data.description === 'retry b') throw Object.assign(new Error('could not serialize access'), { code: '40001' });
            return uploadHandlers.todos.apply(user, tx, op);
          },
        },
      },
    });
    const [a, b, c] = [put(work, 'retry a'), put(work, 'retry b'), put(work, 'retry c')];
    const r = results(await flaky({ id: bob }, batch([a, b, c])));
    expect(r.map((x) => x.status)).toEqual(['applied', 'retry']);
    expect(await todo(a.ops[0]!.id)).toBeDefined();
    expect(await todo(b.ops[0]!.id)).toBeUndefined();
    expect(await todo(c.ops[0]!.id)).toBeUndefined();
    expect((await records([a.id, b.id, c.id])).map((x) => x.transaction_id)).toEqual([a.id]);
    // Sent again from the one that failed, in order: applied once each.
    failing = false;
    const again = results(await flaky({ id: bob }, batch([a, b, c])));
    expect(again.map((x) => x.status)).toEqual(['applied', 'applied', 'applied']);
    expect(again.map((x) => x.status === 'applied' && x.replayed)).toEqual([true, false, false]);
    expect(await todo(c.ops[0]!.id)).toBeDefined();
  });

  it('refuses malformed, duplicate-id and oversized batches whole, with a typed error, writing nothing', async () => {
    const before = (await app.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM todos')).rows[0]!.n;
    const good = put(work, 'in a refused batch');
    const cases: Array<[unknown, string]> = [
      [{ client_id: 'c', transactions: [] }, 'UPLOAD_INVALID_REQUEST'],
      [{ client_id: 'c', transactions: [good, { id: 'not-a-uuid', ops: [] }] }, 'UPLOAD_INVALID_REQUEST'],
      [{ client_id: 'c', transactions: [good, { ...put(work, 'x'), id: good.id.toUpperCase() }] }, 'UPLOAD_INVALID_REQUEST'],
      [{ client_id: 'c', transactions: [good], extra: 1 }, 'UPLOAD_INVALID_REQUEST'],
      [{ client_id: 'c', transactions: 'all of them' }, 'UPLOAD_INVALID_REQUEST'],
      [{ client_id: 'c', transactions: Array.from({ length: UploadLimits.maxTransactions + 1 }, () => put(work, 'many')) }, 'UPLOAD_BATCH_TOO_LARGE'],
      [{ client_id: 'c', transactions: [good, { id: randomUUID(), ops: [{ op: 'PUT', table: 'todos', id: randomUUID(), data: { description: 'x'.repeat(UploadLimits.maxBatchBytes) } }] }] }, 'UPLOAD_BATCH_TOO_LARGE'],
      [{ client_id: 'c', transactions: Array.from({ length: 11 }, () => ({ id: randomUUID(), ops: Array.from({ length: 1000 }, () => ({ op: 'DELETE', table: 'todos', id: randomUUID() })) })) }, 'UPLOAD_BATCH_TOO_LARGE'],
    ];
    for (const [input, code] of cases) {
      const answer = await upload({ id: bob }, input);
      expect(answer, code).toMatchObject({ status: 'rejected', error: { code, message: expect.any(String) } });
    }
    expect(await upload(null, batch([good]))).toMatchObject({ status: 'rejected', error: { code: 'AUTH_NOT_SIGNED_IN' } });
    expect((await app.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM todos')).rows[0]!.n).toBe(before);
    expect(await records([good.id])).toEqual([]);
  });
});
