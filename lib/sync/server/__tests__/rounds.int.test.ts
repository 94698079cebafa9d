import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SyncPath } from '@/lib/sync/protocol';
import { Replica, request, type StreamClient } from './client';
import { streamFixture, syncUntilComplete, type StreamFixture } from './harness';
import { WRITE_CHECKPOINT_LAG_MS } from '../hub/write-checkpoint-window';

/**
 * The hub's checkpoint rounds read only what changed since the previous round (buckets by
 * last_op_id, write checkpoints by LSN and id): nothing that lands between two rounds, or while
 * one runs, may be missed.
 */
describe('sync stream: checkpoint rounds miss nothing', () => {
  let f: StreamFixture;

  beforeAll(async () => {
    f = await streamFixture({ keepaliveMs: 60_000 });
  });
  afterAll(async () => {
    await f?.close();
  });

  /** The description of every row the replica holds that has one. */
  function descriptions(replica: Replica): Set<string> {
    const found = new Set<string>();
    for (const rows of Object.values(replica.contents())) {
      for (const data of Object.values(rows)) {
        const description = (JSON.parse(data) as { description?: unknown }).description;
        if (typeof description === 'string') found.add(description);
      }
    }
    return found;
  }

  /** Applies lines until `done` holds after a complete checkpoint. */
  async function until(client: StreamClient, replica: Replica, done: (replica: Replica, writeCheckpoint: bigint | null) => boolean, received?: Set<bigint>): Promise<void> {
    let writeCheckpoint: bigint | null = null;
    for (;;) {
      const line = await client.next(undefined, 20_000);
      replica.apply(line);
      if ((line.type === 'checkpoint' || line.type === 'checkpoint_diff') && line.write_checkpoint !== null) {
        writeCheckpoint = BigInt(line.write_checkpoint);
        received?.add(writeCheckpoint);
      }
      if (line.type === 'checkpoint_complete' && done(replica, writeCheckpoint)) return;
    }
  }

  // The hub's first rounds ask for every client's write checkpoint; once its window is old enough, only for new ones.
  it.each([{ after: 0 }, { after: WRITE_CHECKPOINT_LAG_MS + 500 }])('delivers every commit and write checkpoint of a burst that lands while rounds run ($after ms after start)', async ({ after }) => {
    await new Promise((resolve) => setTimeout(resolve, after));
    const who = [f.users.alice, f.users.bob, f.users.carol];
    const clients = await Promise.all(
      Array.from({ length: 9 }, async (_, i) => {
        const user = who[i % 3]!;
        const token = await f.token(user);
        return { user, token, clientId: `burst-${after}-${i}`, client: await f.open(token, { client_id: `burst-${after}-${i}` }), replica: new Replica() };
      }),
    );
    await Promise.all(clients.map(({ client, replica }) => syncUntilComplete(client, replica)));

    // Every round's read of changed buckets waits a little, so that commits land while it runs.
    const pool = f.server.storagePool;
    const { query } = pool;
    let slowed = 0;
    pool.query = ((...args: unknown[]) => {
      const config = args[0] as { name?: string } | string;
      if (typeof config === 'object' && config.name === 'lockstep_buckets_changed_at') {
        slowed++;
        return new Promise((resolve) => setTimeout(resolve, 150)).then(() => (query as (...a: unknown[]) => unknown).apply(pool, args));
      }
      return (query as (...a: unknown[]) => unknown).apply(pool, args);
    }) as typeof query;
    const trip = (await f.replication.app.pool.query<{ id: string }>("SELECT id FROM lists WHERE name = 'Weekend trip'")).rows[0]!.id;
    const writeCheckpoints = new Map<string, bigint>();
    /** Every write checkpoint id made for a client, and every one its stream sent it. */
    const made = new Map<string, Set<bigint>>(clients.map((c) => [c.clientId, new Set()]));
    const received = new Map<string, Set<bigint>>(clients.map((c) => [c.clientId, new Set()]));
    try {
      const commits = Array.from({ length: 12 }, async (_, n) => {
        await new Promise((resolve) => setTimeout(resolve, n * 40));
        await f.replication.app.pool.query('INSERT INTO todos (list_id, description) VALUES ($1, $2)', [trip, `burst ${after} ${n}`]);
        // Write checkpoints recorded mid-burst, by some of the clients.
        const c = clients[n % clients.length]!;
        if (n % 2 === 0) {
          const res = await request(`${f.baseUrl}${SyncPath.writeCheckpoint}`, { method: 'POST', headers: { authorization: `Bearer ${c.token}`, 'content-type': 'application/json' }, body: JSON.stringify({ client_id: c.clientId }) });
          expect(res.status).toBe(200);
          const id = BigInt((res.json() as { write_checkpoint: string }).write_checkpoint);
          made.get(c.clientId)!.add(id);
          if (id > (writeCheckpoints.get(c.clientId) ?? 0n)) writeCheckpoints.set(c.clientId, id);
        }
      });
      await Promise.all(commits);
      // One more commit after the last write checkpoint, so that a checkpoint passes its LSN.
      await f.replication.app.pool.query('INSERT INTO todos (list_id, description) VALUES ($1, $2)', [trip, `burst ${after} end`]);
      await Promise.all(
        clients.map(({ clientId, client, replica }) =>
          until(client, replica, (r, wc) => {
            const have = descriptions(r);
            const wanted = writeCheckpoints.get(clientId);
            return have.has(`burst ${after} end`) && Array.from({ length: 12 }, (_, n) => `burst ${after} ${n}`).every((d) => have.has(d)) && (wanted === undefined || (wc !== null && wc >= wanted));
          }, received.get(clientId)),
        ),
      );
      // Then, all streams idle, single commits one after another: each round must find its one change.
      for (let n = 0; n < 3; n++) {
        await f.replication.app.pool.query('INSERT INTO todos (list_id, description) VALUES ($1, $2)', [trip, `after ${after} ${n}`]);
        await Promise.all(clients.map(({ client, replica }) => until(client, replica, (r) => descriptions(r).has(`after ${after} ${n}`))));
      }
    } finally {
      pool.query = query;
    }
    expect(slowed).toBeGreaterThan(0);
    // A client is only ever sent its own write checkpoints.
    for (const { clientId } of clients) expect([...received.get(clientId)!].filter((id) => !made.get(clientId)!.has(id))).toEqual([]);
    for (const { user, client, replica } of clients) {
      expect(replica.contents()).toEqual(await f.expectedFor(user));
      client.close();
    }
  });
});
