import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOOKUPS_FULL_CHECK_MS } from '../hub/hub';
import { Replica, type StreamClient } from './client';
import { streamFixture, syncUntilComplete, type StreamFixture } from './harness';

/**
 * Rounds read the streams' parameter lookups again only after the parameter index changed (its
 * NOTIFY lockstep_parameters, migration 0012), or when they cannot know (the LISTEN connection
 * reconnected, storage sends no such notices). A membership change must reach the client in every
 * one of these cases.
 */
describe('sync stream: rounds read parameter lookups only after they may have changed', () => {
  let f: StreamFixture;

  beforeAll(async () => {
    f = await streamFixture({ keepaliveMs: 60_000 });
  });
  afterAll(async () => {
    await f?.close();
  });

  const listBucket = (id: string) => `list${JSON.stringify([id])}`;
  const counts = () => ({ ...f.server.hub.roundCounts });

  async function listId(name: string): Promise<string> {
    const { rows } = await f.replication.app.pool.query<{ id: string }>('SELECT id FROM lists WHERE name = $1', [name]);
    return rows[0]!.id;
  }

  /** Reads checkpoints until the client holds `bucket` (or no longer does, with present=false). */
  async function untilHolds(client: StreamClient, replica: Replica, bucket: string, present: boolean): Promise<void> {
    while (replica.target.has(bucket) !== present) await syncUntilComplete(client, replica);
  }

  async function todo(list: string, description: string): Promise<void> {
    await f.replication.app.pool.query('INSERT INTO todos (list_id, description) VALUES ($1, $2)', [list, description]);
  }

  async function roundAfter(before: { rounds: number }): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (f.server.hub.roundCounts.rounds <= before.rounds) {
      if (Date.now() > deadline) throw new Error('no round ran');
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  it('skips the lookups of a commit that touches no parameter table, and reads them after one that does', async () => {
    const client = await f.open(await f.token(f.users.carol), { client_id: 'carol-params' });
    const replica = new Replica();
    await syncUntilComplete(client, replica);
    const trip = await listId('Weekend trip');
    // A first round (it may be a full check: the hub's first, or LOOKUPS_FULL_CHECK_MS after one).
    let before = counts();
    await todo(trip, 'Tent');
    await syncUntilComplete(client, replica);
    await roundAfter(before);

    before = counts();
    await todo(trip, 'Torch');
    await syncUntilComplete(client, replica);
    await roundAfter(before);
    expect(JSON.stringify(replica.contents())).toContain('Torch');
    expect(f.server.hub.roundCounts.lookupsRead - before.lookupsRead).toBe(0);
    expect(LOOKUPS_FULL_CHECK_MS).toBeGreaterThan(1_000);

    const groceries = await listId('Groceries');
    before = counts();
    await f.replication.app.pool.query("INSERT INTO list_members (list_id, user_id, role) VALUES ($1, $2, 'viewer')", [groceries, f.users.carol]);
    await untilHolds(client, replica, listBucket(groceries), true);
    expect(f.server.hub.roundCounts.lookupsRead - before.lookupsRead).toBeGreaterThanOrEqual(1);
    expect(replica.contents()).toEqual(await f.expectedFor(f.users.carol));

    await f.replication.app.pool.query('DELETE FROM list_members WHERE list_id = $1 AND user_id = $2', [groceries, f.users.carol]);
    await untilHolds(client, replica, listBucket(groceries), false);
    expect(replica.contents()).toEqual(await f.expectedFor(f.users.carol));
    client.close();
  });

  it('reads every stream\'s lookups in every round when storage sends no parameter notices (checked again on reconnect)', async () => {
    const client = await f.open(await f.token(f.users.carol), { client_id: 'carol-no-notices' });
    const replica = new Replica();
    await syncUntilComplete(client, replica);
    const storage = f.replication.storage.pool;
    await storage.query('ALTER TABLE lockstep.parameter_index DISABLE TRIGGER parameter_index_changed');
    try {
      // Drop the hub's LISTEN connection: it reconnects, and asks again whether notices are sent.
      const before = counts();
      await storage.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query ILIKE 'LISTEN%'");
      const trip = await listId('Weekend trip');
      // Commits until one reaches the client through a round after the reconnect.
      for (let n = 0; f.server.hub.roundCounts.rounds <= before.rounds; n++) {
        if (n > 100) throw new Error('the hub never ran a round after its LISTEN connection was dropped');
        await todo(trip, `after reconnect ${n}`);
        await syncUntilComplete(client, replica);
      }

      // No notice now: the membership change must still be found, by reading every stream's lookups.
      const groceries = await listId('Groceries');
      const read = f.server.hub.roundCounts.lookupsRead;
      await f.replication.app.pool.query("INSERT INTO list_members (list_id, user_id, role) VALUES ($1, $2, 'viewer')", [groceries, f.users.carol]);
      await untilHolds(client, replica, listBucket(groceries), true);
      expect(f.server.hub.roundCounts.lookupsRead).toBeGreaterThan(read);
      expect(replica.contents()).toEqual(await f.expectedFor(f.users.carol));
      await f.replication.app.pool.query('DELETE FROM list_members WHERE list_id = $1 AND user_id = $2', [groceries, f.users.carol]);
      await untilHolds(client, replica, listBucket(groceries), false);
    } finally {
      await storage.query('ALTER TABLE lockstep.parameter_index ENABLE TRIGGER parameter_index_changed');
    }
    client.close();
  });
});
