/* eslint-disable no-restricted-imports -- the integration tests run the real stream endpoint, replicator and uploader; nothing here is bundled */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uploadHandlers } from '@/app/actions/upload-handlers';
import { streamFixture, type StreamFixture } from '@/lib/sync/server/__tests__/harness';
import { createUploader, type UploadFn } from '@/lib/sync/server/upload';
import { createNodeSyncClient } from '../node';
import type { UploadFunction } from '../writes/upload-loop';

/**
 * How long a local write waits, after its upload, for the checkpoint that confirms it (issue #7).
 * The stream's keepalive is set far longer than the bound, so a confirmation that only comes with
 * a keepalive tick (or any other slow timer) fails the test instead of passing slowly.
 */
const KEEPALIVE_MS = 60_000;
/** Far below the keepalive; the replicator's idle checkpoint runs every 250 ms. */
const CONFIRM_BOUND_MS = 3_000;

let f: StreamFixture;
let serverUpload: UploadFn;
/**
 * How long the upload waits before it records its write checkpoint (after its commit). With a
 * delay, the replicator's checkpoint of the upload's data is out before the write checkpoint
 * exists (as in the app under load), so only a later checkpoint can carry it.
 */
let recordDelayMs = 0;

beforeAll(async () => {
  f = await streamFixture({ keepaliveMs: KEEPALIVE_MS });
  const pool = f.replication.storage.pool;
  const storage = new Proxy(pool, {
    get(target, property) {
      if (property !== 'query') {
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      }
      return async (...args: Parameters<typeof pool.query>) => {
        const first = args[0] as unknown;
        const text = typeof first === 'string' ? first : (first as { text?: string } | undefined)?.text;
        if (recordDelayMs > 0 && text?.includes('INSERT INTO lockstep.write_checkpoints')) await new Promise((resolve) => setTimeout(resolve, recordDelayMs));
        return (target.query as (...a: unknown[]) => unknown)(...args);
      };
    },
  });
  serverUpload = createUploader({ source: () => f.replication.app.pool, storage: () => storage, tables: uploadHandlers });
});
afterAll(async () => {
  await f?.close();
});

async function listId(name: string): Promise<string> {
  const { rows } = await f.replication.app.pool.query<{ id: string }>('SELECT id FROM lists WHERE name = $1', [name]);
  return rows[0]!.id;
}

describe('confirmation of uploaded writes', () => {
  it.each([
    [1, 0],
    [300, 0],
    [1, 500],
    [300, 500],
  ])('%i queued transactions (write checkpoint recorded %i ms after the commit) are confirmed by a checkpoint soon after the last batch is uploaded, without waiting for a keepalive', async (n, delay) => {
    recordDelayMs = delay;
    const userId = f.users.alice;
    let lastUploadAt = 0;
    const upload: UploadFunction = async (request) => {
      const result = await serverUpload({ id: userId }, request);
      lastUploadAt = performance.now();
      return result;
    };
    const client = await createNodeSyncClient({
      baseUrl: f.baseUrl,
      fetchToken: async () => ({ token: await f.token(userId), expiresAt: Date.now() + 3_600_000 }),
      backoff: { minMs: 20, maxMs: 200 },
      upload,
    });
    try {
      client.start();
      await client.engine.waitFor((s) => s.state === 'synced', 20_000);
      // Offline: the writes queue up.
      await client.stop();
      const groceries = await listId('Groceries');
      const ids = Array.from({ length: n }, () => randomUUID());
      for (const [i, id] of ids.entries()) client.execute('INSERT INTO todos (id, list_id, description, completed, created_at) VALUES (?, ?, ?, 0, ?)', [id, groceries, `confirm ${n} #${i}`, new Date().toISOString()]);
      expect(client.uploadQueue().filter((e) => e.state === 'pending')).toHaveLength(n);

      // Back online: upload, then wait for the checkpoint that covers the queue.
      client.start();
      const started = performance.now();
      // The queue itself, not the status (which may not have counted the queued writes yet).
      while (client.uploadQueue().length > 0) {
        if (performance.now() - started > KEEPALIVE_MS / 2) throw new Error(`not confirmed: ${JSON.stringify(client.uploadQueue().map((e) => e.state))}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      const confirmedAt = performance.now();
      console.log(`${n} transactions, delay ${delay} ms: uploaded after ${Math.round(lastUploadAt - started)} ms, confirmed ${Math.round(confirmedAt - lastUploadAt)} ms later`);
      const waited = confirmedAt - lastUploadAt;

      const { rows } = await f.replication.app.pool.query<{ n: string }>('SELECT count(*)::text AS n FROM todos WHERE id = ANY($1::uuid[])', [ids]);
      expect(Number(rows[0]!.n)).toBe(n);
      expect(client.query<{ n: number }>('SELECT count(*) AS n FROM todos WHERE id IN (SELECT value FROM json_each(?))', [JSON.stringify(ids)])[0]!.n).toBe(n);
      expect(waited, `confirmed ${Math.round(waited)} ms after the last upload`).toBeLessThan(CONFIRM_BOUND_MS);
    } finally {
      await client.close();
    }
  }, 90_000);
});
