import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SyncPath } from '@/lib/sync/protocol';
import { Replica, request } from './client';
import { streamFixture, syncUntilComplete, type StreamFixture } from './harness';

// Both ways a stream learns of a checkpoint: the hub's shared round, and reading it by itself.
describe.each([{ checkpointRounds: true }, { checkpointRounds: false }])('sync stream: live changes (%o)', ({ checkpointRounds }) => {
  let f: StreamFixture;

  beforeAll(async () => {
    f = await streamFixture({ keepaliveMs: 300, checkpointRounds });
  });
  afterAll(async () => {
    await f?.close();
  });

  const listBucket = (id: string) => `list${JSON.stringify([id])}`;

  async function listId(name: string): Promise<string> {
    const { rows } = await f.replication.app.pool.query<{ id: string }>('SELECT id FROM lists WHERE name = $1', [name]);
    return rows[0]!.id;
  }

  it('sends a checkpoint_diff with the new rows after a commit', async () => {
    const client = await f.open(await f.token(f.users.bob), { client_id: 'bob-live' });
    const replica = new Replica();
    await syncUntilComplete(client, replica);
    const work = await listId('Work');
    await f.replication.app.pool.query("INSERT INTO todos (list_id, description) VALUES ($1, 'Ship it')", [work]);
    const diff = await client.next('checkpoint_diff');
    replica.apply(diff);
    expect(diff.updated_buckets.map((b) => b.bucket)).toEqual([listBucket(work)]);
    expect(diff.removed_buckets).toEqual([]);
    await syncUntilComplete(client, replica);
    client.close();
    expect(replica.contents()).toEqual(await f.expectedFor(f.users.bob));
  });

  it('adds a bucket when the user joins a list and removes it when they leave, mid-stream', async () => {
    const client = await f.open(await f.token(f.users.carol), { client_id: 'carol-live' });
    const replica = new Replica();
    await syncUntilComplete(client, replica);
    const groceries = await listId('Groceries');
    expect(replica.target.has(listBucket(groceries))).toBe(false);

    await f.replication.app.pool.query("INSERT INTO list_members (list_id, user_id, role) VALUES ($1, $2, 'viewer')", [groceries, f.users.carol]);
    const added = await client.next('checkpoint_diff');
    replica.apply(added);
    expect(added.updated_buckets.map((b) => b.bucket)).toContain(listBucket(groceries));
    await syncUntilComplete(client, replica);
    expect(Object.keys(replica.contents()[listBucket(groceries)] ?? {}).some((k) => k.startsWith('todos/'))).toBe(true);
    expect(replica.contents()).toEqual(await f.expectedFor(f.users.carol));

    await f.replication.app.pool.query('DELETE FROM list_members WHERE list_id = $1 AND user_id = $2', [groceries, f.users.carol]);
    let removed = await client.next('checkpoint_diff');
    // The membership row's REMOVE in the list bucket may come first; wait for the bucket to go.
    while (!removed.removed_buckets.includes(listBucket(groceries))) {
      replica.apply(removed);
      await syncUntilComplete(client, replica);
      removed = await client.next('checkpoint_diff');
    }
    replica.apply(removed);
    await syncUntilComplete(client, replica);
    expect(replica.target.has(listBucket(groceries))).toBe(false);
    expect(replica.contents()[listBucket(groceries)]).toBeUndefined();
    expect(replica.contents()).toEqual(await f.expectedFor(f.users.carol));
    client.close();
  });

  it('sends nothing to users whose buckets did not change', async () => {
    const carol = await f.open(await f.token(f.users.carol), { client_id: 'carol-quiet' });
    const replica = new Replica();
    await syncUntilComplete(carol, replica);
    // Work is Bob's list, shared with Alice only.
    await f.replication.app.pool.query("INSERT INTO todos (list_id, description) VALUES ($1, 'Not for Carol')", [await listId('Work')]);
    await f.catchUp();
    await new Promise((r) => setTimeout(r, 200));
    expect(carol.unread().filter((l) => l.type !== 'keepalive' && l.type !== 'token_expires_in')).toEqual([]);
    carol.close();
  });

  it('acknowledges a write checkpoint in the first checkpoint that covers it', async () => {
    const token = await f.token(f.users.alice);
    const client = await f.open(token, { client_id: 'alice-wc' });
    const replica = new Replica();
    await syncUntilComplete(client, replica);
    await f.replication.app.pool.query("INSERT INTO todos (list_id, description) VALUES ($1, 'Uploaded')", [await listId('Groceries')]);
    const res = await request(`${f.baseUrl}${SyncPath.writeCheckpoint}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ client_id: 'alice-wc' }) });
    expect(res.status).toBe(200);
    const { write_checkpoint: id } = res.json() as { write_checkpoint: string };
    for (;;) {
      const line = await client.next(undefined, 15_000);
      replica.apply(line);
      if (line.type === 'checkpoint_diff' && line.write_checkpoint !== null && BigInt(line.write_checkpoint) >= BigInt(id)) break;
    }
    await syncUntilComplete(client, replica);
    // The upload is in the data by then.
    expect(JSON.stringify(replica.contents())).toContain('Uploaded');
    client.close();

    // Another client of the same user has no write checkpoint.
    const other = await f.open(token, { client_id: 'alice-other' });
    expect((await other.next('checkpoint')).write_checkpoint).toBeNull();
    other.close();
  });

  it('sends keepalive lines with token_expires_in while idle', async () => {
    const client = await f.open(await f.token(f.users.bob, { ttlSeconds: 120 }), { client_id: 'bob-idle' });
    await client.next('checkpoint_complete');
    await client.next('keepalive', 2_000);
    const expires = await client.next('token_expires_in', 1_000);
    expect(expires.seconds).toBeGreaterThan(100);
    expect(expires.seconds).toBeLessThanOrEqual(120);
    client.close();
  });
});
