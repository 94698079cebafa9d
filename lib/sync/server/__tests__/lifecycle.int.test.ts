import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Replica } from './client';
import { streamFixture, syncUntilComplete, type StreamFixture } from './harness';
import { poll } from '@/lib/sync/replicator/__tests__/harness';

let f: StreamFixture;
let dave: string;
const BIG_ROWS = 20_000;

beforeAll(async () => {
  f = await streamFixture({ page: { maxOps: 100, maxBytes: 1 << 20 }, keepaliveMs: 60_000 });
  // Dave owns a list large enough to fill every socket buffer between server and client (~20 MB).
  const app = f.replication.app.pool;
  dave = (await app.query<{ id: string }>("INSERT INTO users (email, name) VALUES ('dave@example.com', 'Dave') RETURNING id")).rows[0]!.id;
  const list = (await app.query<{ id: string }>("INSERT INTO lists (name, owner_id) VALUES ('Big', $1) RETURNING id", [dave])).rows[0]!.id;
  await app.query(`INSERT INTO todos (list_id, description) SELECT $1, 'todo ' || i || ' ' || repeat('x', 1000) FROM generate_series(1, ${BIG_ROWS}) AS i`, [list]);
  await f.catchUp();
}, 180_000);
afterAll(async () => {
  await f?.close();
});

/** Counts op pages read from bucket storage. */
function countPages(): { readonly count: number; restore(): void } {
  const loaders = f.server.hub.loaders;
  const original = loaders.page;
  let count = 0;
  loaders.page = (...args) => {
    count++;
    return original(...args);
  };
  return {
    get count() {
      return count;
    },
    restore: () => (loaders.page = original),
  };
}

const idle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('sync stream: lifecycle', () => {
  it('holds back while the client does not read (backpressure), then delivers everything', async () => {
    const pages = countPages();
    try {
      const client = await f.open(await f.token(dave), { client_id: 'dave-slow' });
      client.pause();
      // The server reads pages until the socket buffers between it and the client are full; on a
      // busy machine that takes a while, so wait until the count stops moving (then it must stay).
      let stalled = -1;
      for (const started = Date.now(); stalled !== pages.count && Date.now() - started < 20_000; ) {
        stalled = pages.count;
        await idle(500);
      }
      await idle(500);
      expect(pages.count).toBe(stalled);
      expect(stalled).toBeLessThan(BIG_ROWS / 100 / 2); // far from all 200 pages
      client.resume();
      const replica = new Replica();
      await syncUntilComplete(client, replica, 1, 60_000);
      client.close();
      expect(pages.count).toBeGreaterThanOrEqual(BIG_ROWS / 100);
      expect(replica.contents()).toEqual(await f.expectedFor(dave));
    } finally {
      pages.restore();
    }
  });

  it('frees a stream as soon as its client disconnects mid-transfer', async () => {
    const pages = countPages();
    try {
      const before = f.server.streamCount;
      const client = await f.open(await f.token(dave), { client_id: 'dave-gone' });
      await client.next('data');
      expect(f.server.streamCount).toBe(before + 1);
      client.close();
      await poll(async () => (f.server.streamCount === before ? true : undefined), 1_000, 'the stream to be freed');
      const after = pages.count;
      await idle(300);
      expect(pages.count).toBe(after);
      expect(after).toBeLessThan(BIG_ROWS / 100);
    } finally {
      pages.restore();
    }
  });

  it('frees idle streams as soon as their clients disconnect', async () => {
    const before = f.server.streamCount;
    const clients = await Promise.all(Array.from({ length: 10 }, async (_, i) => f.open(await f.token(f.users.bob), { client_id: `bob-${i}` })));
    await Promise.all(clients.map((c) => c.next('checkpoint_complete')));
    expect(f.server.streamCount).toBe(before + 10);
    for (const c of clients) c.close();
    await poll(async () => (f.server.streamCount === before ? true : undefined), 1_000, 'the streams to be freed');
  });

  it('ends the stream when the token expires, after token_expires_in 0', async () => {
    const before = f.server.streamCount;
    const client = await f.open(await f.token(f.users.carol, { ttlSeconds: 2 }), { client_id: 'carol-expiring' });
    await client.next('checkpoint_complete');
    const started = Date.now();
    let last = await client.next('token_expires_in', 5_000);
    while (last.seconds !== 0) last = await client.next('token_expires_in', 5_000);
    await client.finished;
    expect(client.unread()).toEqual([]);
    expect(Date.now() - started).toBeLessThan(3_000);
    await poll(async () => (f.server.streamCount === before ? true : undefined), 1_000, 'the stream to be freed');
  });

  it('cuts off a client that stops reading once its token has expired', async () => {
    const before = f.server.streamCount;
    const client = await f.open(await f.token(dave, { ttlSeconds: 2 }), { client_id: 'dave-stuck' });
    await client.next('data');
    client.pause();
    const started = Date.now();
    // 2 s of token, then 5 s of grace to reach a page boundary; then the server lets go.
    await poll(async () => (f.server.streamCount === before ? true : undefined), 9_000, 'the stream to be cut off');
    expect(Date.now() - started).toBeGreaterThan(1_500);
    client.resume();
    await client.finished;
  }, 15_000);

  it('serves many concurrent streams from one LISTEN connection and a handful of queries per checkpoint', async () => {
    const who = [f.users.alice, f.users.bob, f.users.carol];
    const clients = await Promise.all(Array.from({ length: 60 }, async (_, i) => ({ user: who[i % 3]!, client: await f.open(await f.token(who[i % 3]!), { client_id: `many-${i}` }), replica: new Replica() })));
    await Promise.all(clients.map(({ client, replica }) => syncUntilComplete(client, replica, 1, 30_000)));
    for (const user of who) {
      const expected = await f.expectedFor(user);
      for (const c of clients.filter((c) => c.user === user)) expect(c.replica.contents()).toEqual(expected);
    }
    const listeners = await f.replication.storage.pool.query<{ n: string }>("SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND query ILIKE 'LISTEN%'");
    expect(Number(listeners.rows[0]!.n)).toBe(1);

    // One commit that every one of them sees ("Weekend trip" is shared by all three).
    const pool = f.server.storagePool;
    let queries = 0;
    const { query, connect } = pool;
    pool.query = ((...args: Parameters<typeof query>) => {
      queries++;
      return (query as (...a: unknown[]) => unknown).apply(pool, args);
    }) as typeof query;
    pool.connect = ((...args: Parameters<typeof connect>) => {
      queries++;
      return (connect as (...a: unknown[]) => unknown).apply(pool, args);
    }) as typeof connect;
    try {
      const trip = (await f.replication.app.pool.query<{ id: string }>("SELECT id FROM lists WHERE name = 'Weekend trip'")).rows[0]!.id;
      await f.replication.app.pool.query("INSERT INTO todos (list_id, description) VALUES ($1, 'Sunscreen')", [trip]);
      await Promise.all(clients.map(({ client, replica }) => syncUntilComplete(client, replica, 1, 30_000)));
    } finally {
      pool.query = query;
      pool.connect = connect;
    }
    for (const { replica } of clients) expect(JSON.stringify(replica.contents())).toContain('Sunscreen');
    // Lookups, changed bucket states, write checkpoints and the one page: shared by all 60 streams.
    expect(queries).toBeLessThanOrEqual(12);

    // A change only Alice and Bob see ("Work"): the round wakes their streams only, and no stream
    // reads storage by itself.
    const loaders = f.server.hub.loaders;
    const { grants, checkpoint } = loaders;
    let ownReads = 0;
    loaders.grants = (...args) => (ownReads++, grants(...args));
    loaders.checkpoint = (...args) => (ownReads++, checkpoint(...args));
    try {
      const work = (await f.replication.app.pool.query<{ id: string }>("SELECT id FROM lists WHERE name = 'Work'")).rows[0]!.id;
      await f.replication.app.pool.query("INSERT INTO todos (list_id, description) VALUES ($1, 'Quarterly plan')", [work]);
      const seeing = clients.filter((c) => c.user !== f.users.carol);
      await Promise.all(seeing.map(({ client, replica }) => syncUntilComplete(client, replica, 1, 30_000)));
      await idle(300);
    } finally {
      loaders.grants = grants;
      loaders.checkpoint = checkpoint;
    }
    expect(ownReads).toBe(0);
    for (const { user, client } of clients) {
      if (user === f.users.carol) expect(client.unread().filter((l) => l.type !== 'keepalive' && l.type !== 'token_expires_in')).toEqual([]);
      client.close();
    }
  });
});
