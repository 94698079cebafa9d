import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Replica } from './client';
import { streamFixture, syncUntilComplete, type StreamFixture } from './harness';

/**
 * A round hands its data out a slice of streams at a time, letting the event loop turn in between.
 * A keepalive tick that wakes the streams in between must not send those still waiting for their
 * slice to read the checkpoint by themselves (with 1,000 streams that was hundreds of reads, and
 * the next rounds found them busy: fan-out latencies of seconds).
 */
describe('sync stream: keepalive ticks during a round\'s hand-out', () => {
  let f: StreamFixture;

  beforeAll(async () => {
    // A tick every 2 ms: some land between the slices of every hand-out.
    f = await streamFixture({ keepaliveMs: 2 });
  });
  afterAll(async () => {
    await f?.close();
  });

  it('leaves every stream waiting for its slice instead of reading the checkpoint itself', async () => {
    const who = [f.users.alice, f.users.bob, f.users.carol];
    // More than two slices of streams (round.ts WAKE_SLICE is 50).
    const clients = await Promise.all(Array.from({ length: 160 }, async (_, i) => ({ client: await f.open(await f.token(who[i % 3]!), { client_id: `tick-${i}` }), replica: new Replica() })));
    await Promise.all(clients.map(({ client, replica }) => syncUntilComplete(client, replica, 1, 30_000)));
    const trip = (await f.replication.app.pool.query<{ id: string }>("SELECT id FROM lists WHERE name = 'Weekend trip'")).rows[0]!.id;

    const loaders = f.server.hub.loaders;
    const { grants, checkpoint } = loaders;
    let ownReads = 0;
    loaders.grants = (...args) => (ownReads++, grants(...args));
    loaders.checkpoint = (...args) => (ownReads++, checkpoint(...args));
    const before = { ...f.server.hub.roundCounts };
    try {
      for (let n = 0; n < 5; n++) {
        await f.replication.app.pool.query('INSERT INTO todos (list_id, description) VALUES ($1, $2)', [trip, `tick ${n}`]);
        await Promise.all(clients.map(({ client, replica }) => syncUntilComplete(client, replica, 1, 30_000)));
      }
    } finally {
      loaders.grants = grants;
      loaders.checkpoint = checkpoint;
    }
    const after = f.server.hub.roundCounts;
    for (const { replica } of clients) expect(JSON.stringify(replica.contents())).toContain('tick 4');
    expect(after.slicedRounds - before.slicedRounds).toBeGreaterThanOrEqual(3);
    expect(after.catchingUp - before.catchingUp).toBe(0);
    expect(ownReads).toBe(0);
    for (const { client } of clients) client.close();
  });
});
