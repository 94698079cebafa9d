/* eslint-disable no-restricted-imports -- the integration tests run the real stream endpoint and replicator; nothing here is bundled */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { streamFixture, type StreamFixture } from '@/lib/sync/server/__tests__/harness';
import type { SyncCore } from '../core';
import { openNodeDatabase } from '../db/open-node';
import { memoryLogger } from '../log';
import { createNodeSyncClient } from '../node';
import type { UploadQueue } from '../upload-queue';
import { storeContents, unionOfBuckets } from './helpers';

let f: StreamFixture;

beforeAll(async () => {
  f = await streamFixture({ keepaliveMs: 500, page: { maxOps: 5, maxBytes: 1 << 20 } });
});
afterAll(async () => {
  await f?.close();
});

const fast = { backoff: { minMs: 20, maxMs: 200 } };

async function clientFor(user: keyof StreamFixture['users'], extra: Partial<Parameters<typeof createNodeSyncClient>[0]> = {}): Promise<SyncCore> {
  const userId = f.users[user];
  return createNodeSyncClient({
    baseUrl: f.baseUrl,
    fetchToken: async () => ({ token: await f.token(userId), expiresAt: Date.now() + 3_600_000 }),
    ...fast,
    ...extra,
  });
}

async function expected(user: keyof StreamFixture['users']): Promise<Record<string, string>> {
  await f.catchUp();
  return unionOfBuckets(await f.expectedFor(f.users[user]));
}

/** Waits until the client has applied a checkpoint at or past the latest one in storage. */
async function settle(client: SyncCore): Promise<void> {
  await f.catchUp();
  const { rows } = await f.replication.storage.pool.query<{ op_id: string }>('SELECT max(op_id)::text AS op_id FROM lockstep.checkpoints');
  const latest = Number(rows[0]!.op_id);
  await client.engine.waitFor((s) => s.state === 'synced' && Number(s.checkpoint?.lastOpId ?? 0) >= latest, 20_000);
}

/** The response with each NDJSON line passed through `fn`, streamed (the sync stream never ends by itself). */
function mapLines(response: Response, fn: (line: string) => string): Response {
  let rest = '';
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  const body = response.body!.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        const lines = (rest + decoder.decode(chunk, { stream: true })).split('\n');
        rest = lines.pop()!;
        if (lines.length > 0) controller.enqueue(encoder.encode(lines.map((l) => `${fn(l)}\n`).join('')));
      },
    }),
  );
  return new Response(body, { status: response.status, headers: response.headers });
}

async function listId(name: string): Promise<string> {
  const { rows } = await f.replication.app.pool.query<{ id: string }>('SELECT id FROM lists WHERE name = $1', [name]);
  return rows[0]!.id;
}

describe('sync client against the real stream endpoint', () => {
  it('first sync: the views show exactly the rows of the user’s buckets', async () => {
    const client = await clientFor('alice');
    client.start();
    await settle(client);
    expect(storeContents(client.db)).toEqual(await expected('alice'));
    const lists = client.query<{ name: string }>('SELECT name FROM lists ORDER BY name');
    const { rows } = await f.replication.app.pool.query<{ name: string }>('SELECT name FROM lists WHERE owner_id = $1 OR id IN (SELECT list_id FROM list_members WHERE user_id = $1) ORDER BY name', [f.users.alice]);
    expect(lists.map((l) => l.name)).toEqual(rows.map((r) => r.name));
    const todo = client.query<{ completed: number; list_id: string }>('SELECT completed, list_id FROM todos LIMIT 1')[0];
    expect(typeof todo?.completed).toBe('number');
    expect(client.status).toMatchObject({ connected: true, hasSynced: true, downloading: false, downloadError: null });
    await client.close();
  });

  it('applies live changes and tells listeners which tables changed', async () => {
    const client = await clientFor('bob');
    client.start();
    await settle(client);
    const changed: string[][] = [];
    client.onTablesChanged((tables) => changed.push(tables));
    await f.replication.app.pool.query("INSERT INTO todos (list_id, description) VALUES ($1, 'Live from Postgres')", [await listId('Work')]);
    await settle(client);
    expect(client.query('SELECT description FROM todos WHERE description = ?', ['Live from Postgres'])).toHaveLength(1);
    expect(changed.flat()).toContain('todos');
    expect(changed.flat()).not.toContain('users');
    expect(storeContents(client.db)).toEqual(await expected('bob'));
    await client.close();
  });

  it('removes the rows of a bucket the user loses, keeps rows another bucket still holds', async () => {
    const client = await clientFor('carol');
    client.start();
    await settle(client);
    const groceries = await listId('Groceries');
    await f.replication.app.pool.query("INSERT INTO list_members (list_id, user_id, role) VALUES ($1, $2, 'viewer')", [groceries, f.users.carol]);
    await settle(client);
    expect(client.query('SELECT id FROM lists WHERE id = ?', [groceries])).toHaveLength(1);
    expect(storeContents(client.db)).toEqual(await expected('carol'));
    await f.replication.app.pool.query('DELETE FROM list_members WHERE list_id = $1 AND user_id = $2', [groceries, f.users.carol]);
    await settle(client);
    expect(client.query('SELECT id FROM lists WHERE id = ?', [groceries])).toHaveLength(0);
    expect(client.query('SELECT id FROM todos WHERE list_id = ?', [groceries])).toHaveLength(0);
    expect(storeContents(client.db)).toEqual(await expected('carol'));
    await client.close();
  });

  it('resumes after a reload from the stored positions, without downloading again', async () => {
    const db = await openNodeDatabase();
    const first = await clientFor('alice', { db });
    first.start();
    await settle(first);
    await first.engine.stop();
    const positions = first.engine.checkpoints.request().buckets ?? [];
    expect(positions.length).toBeGreaterThan(0);

    // "Reload": a new core on the same database, as the worker does after a page load.
    const bodies: string[] = [];
    let opsReceived = 0;
    const second = await clientFor('alice', {
      db,
      fetch: async (input, init) => {
        bodies.push(String(init?.body));
        return fetch(input, init);
      },
    });
    const data = second.engine.checkpoints.data.bind(second.engine.checkpoints);
    second.engine.checkpoints.data = (lines) => (opsReceived += data(lines));
    expect(second.status.hasSynced).toBe(true);
    second.start();
    await settle(second);
    expect(JSON.parse(bodies[0]!)).toMatchObject({ buckets: positions });
    expect(opsReceived).toBe(0);
    expect(storeContents(db)).toEqual(await expected('alice'));
    await second.close();
  });

  it('drops and downloads again a bucket whose checksum does not match, with a log line', async () => {
    const log = memoryLogger();
    let tampered = false;
    const client = await clientFor('alice', {
      log,
      fetch: async (input, init) => {
        const response = await fetch(input, init);
        if (tampered) return response;
        // Changes one character of the first PUT's data, keeping its wire checksum.
        return mapLines(response, (line) => {
          if (tampered || !line.startsWith('{"type":"data"')) return line;
          tampered = true;
          return line.replace(/("data":"\{\\"id\\":\\")(.)/, (_m, head: string, c: string) => `${head}${c === 'a' ? 'b' : 'a'}`);
        });
      },
    });
    client.start();
    await settle(client);
    expect(tampered).toBe(true);
    expect(log.lines.some((l) => l.level === 'warn' && l.message.includes('bucket checksum mismatch'))).toBe(true);
    expect(storeContents(client.db)).toEqual(await expected('alice'));
    await client.close();
  });

  it('reconnects with backoff when the connection breaks mid-checkpoint, and never shows a partial checkpoint', async () => {
    let connections = 0;
    const client = await clientFor('alice', {
      fetch: async (input, init) => {
        const response = await fetch(input, init);
        connections++;
        if (connections > 3 || !response.body) return response;
        // Cut the body after a few hundred bytes: mid-line, mid-checkpoint.
        const reader = response.body.getReader();
        let sent = 0;
        const cut = 300 * connections;
        const body = new ReadableStream<Uint8Array>({
          async pull(controller) {
            const { value, done } = await reader.read();
            if (done || sent >= cut) {
              await reader.cancel();
              controller.error(new Error('connection reset'));
              return;
            }
            const part = value.subarray(0, Math.max(0, cut - sent));
            sent += part.length;
            controller.enqueue(part);
          },
        });
        return new Response(body, { status: response.status, headers: response.headers });
      },
    });
    const seen: number[] = [];
    client.onTablesChanged(() => seen.push(client.query('SELECT count(*) AS n FROM todos')[0]!.n as number));
    client.start();
    await settle(client);
    expect(connections).toBeGreaterThan(3);
    expect(storeContents(client.db)).toEqual(await expected('alice'));
    // Only complete checkpoints were ever applied: the only state seen is the full one.
    expect(new Set(seen).size).toBe(1);
    await client.close();
  });

  it('renews a short-lived token before it expires and reconnects', async () => {
    let tokens = 0;
    const client = await clientFor('bob', {
      tokenMarginMs: 500,
      fetchToken: async () => {
        tokens++;
        return { token: await f.token(f.users.bob, { ttlSeconds: 2 }), expiresAt: Date.now() + 2_000 };
      },
    });
    client.start();
    await settle(client);
    await new Promise((r) => setTimeout(r, 3_000));
    expect(tokens).toBeGreaterThanOrEqual(2);
    await settle(client);
    expect(client.status.downloadError).toBeNull();
    expect(storeContents(client.db)).toEqual(await expected('bob'));
    await client.close();
  });

  it('holds a verified checkpoint while the upload queue is not covered, applies it once it is', async () => {
    let allow = false;
    const listeners = new Set<() => void>();
    const queue: UploadQueue = {
      canApply: () => allow,
      uploading: false,
      subscribe(listener) {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
    };
    const client = await clientFor('alice', { uploadQueue: queue });
    client.start();
    await client.engine.waitFor((s) => s.state === 'held');
    expect(client.status.hasSynced).toBe(false);
    expect(client.query('SELECT count(*) AS n FROM lists')[0]!.n).toBe(0);
    allow = true;
    for (const l of listeners) l();
    await settle(client);
    expect(storeContents(client.db)).toEqual(await expected('alice'));
    await client.close();
  });
});
