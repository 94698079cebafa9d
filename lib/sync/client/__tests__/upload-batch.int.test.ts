/* eslint-disable no-restricted-imports -- the integration tests run the real stream endpoint, replicator and uploader; nothing here is bundled */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uploadHandlers } from '@/app/actions/upload-handlers';
import { UploadLimits, type UploadRequest, type UploadResult } from '@/lib/sync/protocol';
import { streamFixture, type StreamFixture } from '@/lib/sync/server/__tests__/harness';
import { createUploader, type UploadFn } from '@/lib/sync/server/upload';
import type { SyncCore } from '../core';
import { createNodeSyncClient } from '../node';
import type { RejectedWrite } from '../writes/queue-store';
import { UploadLoop, type UploadFunction } from '../writes/upload-loop';

let f: StreamFixture;
let serverUpload: UploadFn;
/** While set, the server fails (retryably) on todos with this description. */
let failOn: string | undefined;
type User = keyof StreamFixture['users'];

beforeAll(async () => {
  f = await streamFixture({ keepaliveMs: 500 });
  const todos = uploadHandlers.todos;
  serverUpload = createUploader({
    source: () => f.replication.app.pool,
    storage: () => f.replication.storage.pool,
    tables: {
      ...uploadHandlers,
      todos: {
        ...todos,
        apply: async (user, tx, op) => {
          if (failOn !== undefined && op.op === 'PUT' && op.data.description === failOn) throw Object.assign(new Error('could not serialize access'), { code: '40001' });
          return todos.apply(user, tx, op);
        },
      },
    },
  });
});
afterAll(async () => {
  await f?.close();
});

/** A client of `user` with `descriptions` queued as one transaction each, uploading nothing yet. */
async function queued(user: User, list: string, descriptions: string[]): Promise<{ client: SyncCore; ids: string[]; txIds: string[] }> {
  const userId = f.users[user];
  const client = await createNodeSyncClient({
    baseUrl: f.baseUrl,
    fetchToken: async () => ({ token: await f.token(userId), expiresAt: Date.now() + 3_600_000 }),
    backoff: { minMs: 20, maxMs: 200 },
  });
  client.start();
  await client.engine.waitFor((s) => s.hasSynced, 20_000);
  await client.stop();
  const ids = descriptions.map(() => randomUUID());
  descriptions.forEach((description, i) => client.execute('INSERT INTO todos (id, list_id, description, completed, created_at) VALUES (?, ?, ?, 0, ?)', [ids[i]!, list, description, new Date().toISOString()]));
  return { client, ids, txIds: client.uploadQueue().map((e) => e.transaction.id) };
}

/** Runs an upload loop over the client's queue until nothing is pending; returns what it sent. */
async function drain(client: SyncCore, user: User, options: { maxTransactions: number; wrap?: (upload: UploadFunction) => UploadFunction; onRejected?: (r: RejectedWrite) => void }) {
  const calls: Array<{ ids: string[]; result: UploadResult }> = [];
  const real: UploadFunction = async (request) => {
    const result = await serverUpload({ id: f.users[user] }, request);
    calls.push({ ids: request.transactions.map((t) => t.id), result });
    return result;
  };
  const loop = new UploadLoop({
    db: client.db,
    clientId: client.store.clientId,
    upload: options.wrap ? options.wrap(real) : real,
    backoff: { minMs: 20, maxMs: 100 },
    batch: { maxTransactions: options.maxTransactions },
    ...(options.onRejected ? { onRejected: options.onRejected } : {}),
  });
  loop.start();
  for (const deadline = Date.now() + 20_000; client.uploadQueue().some((e) => e.state === 'pending'); ) {
    if (Date.now() > deadline) throw new Error('the queue did not drain');
    await new Promise((r) => setTimeout(r, 20));
  }
  loop.stop();
  return calls;
}

async function pgDescriptions(ids: string[]): Promise<Array<string | undefined>> {
  const { rows } = await f.replication.app.pool.query<{ id: string; description: string }>('SELECT id, description FROM todos WHERE id = ANY($1::uuid[])', [ids]);
  return ids.map((id) => rows.find((r) => r.id === id)?.description);
}

async function listId(name: string): Promise<string> {
  const { rows } = await f.replication.app.pool.query<{ id: string }>('SELECT id FROM lists WHERE name = $1', [name]);
  return rows[0]!.id;
}

describe('the upload loop sends the queue in batches', () => {
  it('drains the queue across several batches, in queue order; a rejected transaction leaves just itself, recorded', async () => {
    const trip = await listId('Weekend trip'); // Carol is a member
    const { client, ids } = await queued('carol', trip, ['one', 'two', 'three', 'four', 'five', 'six', 'seven']);
    // Into a list Carol cannot write: refused by the server, in the middle of a batch.
    const refused = randomUUID();
    client.execute('INSERT INTO todos (id, list_id, description, completed, created_at) VALUES (?, ?, ?, 0, ?)', [refused, await listId('Groceries'), 'not mine', new Date().toISOString()]);
    const eight = randomUUID();
    client.execute('INSERT INTO todos (id, list_id, description, completed, created_at) VALUES (?, ?, ?, 0, ?)', [eight, trip, 'eight', new Date().toISOString()]);
    const order = client.uploadQueue().map((e) => e.transaction.id);
    const rejected: RejectedWrite[] = [];
    const calls = await drain(client, 'carol', { maxTransactions: 3, onRejected: (r) => rejected.push(r) });
    expect(calls.map((c) => c.ids.length)).toEqual([3, 3, 3]);
    expect(calls.flatMap((c) => c.ids)).toEqual(order);
    expect(await pgDescriptions([...ids, refused, eight])).toEqual(['one', 'two', 'three', 'four', 'five', 'six', 'seven', undefined, 'eight']);
    expect(rejected.map((r) => [r.error.code, r.ops[0]!.id])).toEqual([['UPLOAD_FORBIDDEN', refused]]);
    expect(client.rejectedWrites().map((r) => r.ops[0]!.id)).toEqual([refused]);
    expect(client.query('SELECT id FROM todos WHERE id = ?', [refused])).toEqual([]);
    expect(client.uploadQueue().map((e) => e.state)).toEqual(Array(8).fill('acked'));
    await client.close();
  });

  it('stops at a retryable failure mid-batch, keeps the rest queued in order, and sends them again from there', async () => {
    const trip = await listId('Weekend trip');
    const { client, ids, txIds } = await queued('carol', trip, ['r1', 'r2', 'r3', 'r4']);
    failOn = 'r2';
    const wrap = (upload: UploadFunction): UploadFunction => async (request) => {
      const result = await upload(request);
      failOn = undefined; // the failure passes after the first call
      return result;
    };
    const calls = await drain(client, 'carol', { maxTransactions: 10, wrap });
    expect(calls[0]!.ids).toEqual(txIds);
    expect(calls[0]!.result).toMatchObject({ status: 'results', results: [{ status: 'applied' }, { status: 'retry' }] });
    expect(calls[1]!.ids).toEqual(txIds.slice(1));
    expect(calls[1]!.result).toMatchObject({ status: 'results', results: [{ status: 'applied', replayed: false }, { status: 'applied' }, { status: 'applied' }] });
    expect(await pgDescriptions(ids)).toEqual(['r1', 'r2', 'r3', 'r4']);
    expect(client.uploadQueue().map((e) => [e.transaction.id, e.state])).toEqual(txIds.map((id) => [id, 'acked']));
    await client.close();
  });

  it('a thrown call (offline, 5xx) keeps the whole batch queued; nothing is lost or applied twice', async () => {
    const trip = await listId('Weekend trip');
    const { client, ids, txIds } = await queued('carol', trip, ['t1', 't2', 't3']);
    let dropped = false;
    // The first answer is lost after the server applied the batch.
    const wrap = (upload: UploadFunction): UploadFunction => async (request) => {
      const result = await upload(request);
      if (!dropped) {
        dropped = true;
        throw new TypeError('network connection lost');
      }
      return result;
    };
    const calls = await drain(client, 'carol', { maxTransactions: 10, wrap });
    expect(calls.map((c) => c.ids)).toEqual([txIds, txIds]);
    expect(calls[1]!.result).toMatchObject({ status: 'results', results: ids.map(() => ({ status: 'applied', replayed: true })) });
    expect(await pgDescriptions(ids)).toEqual(['t1', 't2', 't3']);
    await client.close();
  });

  it('a request refused whole is sent again in halves; a lone transaction refused whole is rejected, the rest go', async () => {
    const trip = await listId('Weekend trip');
    const { client, ids, txIds } = await queued('carol', trip, ['h1', 'h2', 'h3', 'h4', 'h5', 'h6']);
    const poisoned = txIds[3]!;
    // A server that refuses any request carrying `poisoned` whole, as it does a malformed one.
    const wrap = (upload: UploadFunction): UploadFunction => async (request: UploadRequest) =>
      request.transactions.some((t) => t.id === poisoned) ? { status: 'rejected', error: { code: 'UPLOAD_INVALID_REQUEST', message: 'malformed' } } : upload(request);
    const rejected: RejectedWrite[] = [];
    const calls = await drain(client, 'carol', { maxTransactions: 6, wrap, onRejected: (r) => rejected.push(r) });
    expect(calls.flatMap((c) => c.ids)).toEqual(txIds.filter((id) => id !== poisoned));
    expect(rejected.map((r) => [r.transactionId, r.error.code])).toEqual([[poisoned, 'UPLOAD_INVALID_REQUEST']]);
    expect(await pgDescriptions(ids)).toEqual(['h1', 'h2', 'h3', undefined, 'h5', 'h6']);
    expect(client.uploadQueue().map((e) => e.transaction.id)).toEqual(txIds.filter((id) => id !== poisoned));
    await client.close();
  });

  it('a transaction larger than the server takes is rejected without being sent; one just under the limit is applied', async () => {
    const trip = await listId('Weekend trip');
    // UploadLimits.maxBatchBytes is 1 MiB of JSON for the whole request: one row 8 KiB under it, one just over.
    const fits = 'f'.repeat(UploadLimits.maxBatchBytes - 8 * 1024);
    const tooLarge = 'x'.repeat(UploadLimits.maxBatchBytes);
    const { client, ids, txIds } = await queued('carol', trip, ['before', fits, tooLarge, 'after']);
    const rejected: RejectedWrite[] = [];
    const calls = await drain(client, 'carol', { maxTransactions: 10, onRejected: (r) => rejected.push(r) });
    expect(calls.flatMap((c) => c.ids)).toEqual([txIds[0], txIds[1], txIds[3]]);
    expect(rejected.map((r) => [r.transactionId, r.error.code])).toEqual([[txIds[2], 'UPLOAD_BATCH_TOO_LARGE']]);
    expect(rejected[0]!.error.details).toMatchObject({ maxBytes: UploadLimits.maxBatchBytes });
    expect((await pgDescriptions(ids)).map((d) => d?.length)).toEqual([6, fits.length, undefined, 5]);
    expect(client.query('SELECT id FROM todos WHERE id = ?', [ids[2]!])).toEqual([]);
    await client.close();
  });
});
