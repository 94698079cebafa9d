import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import syncConfig from '@/sync.config';
import { compileSyncRules } from '@/lib/sync/config';
import { lookupParameters } from '@/lib/sync/storage';
import { seedDemoData } from '@/lib/db/seed';
import { replicatorStatus } from '../status';
import { activeVersion, asObject, bucketContents, expectedContents, replicationFixture, waitForCatchUp, type ReplicationFixture } from './harness';

const rules = compileSyncRules(syncConfig);
let f: ReplicationFixture;
let rulesId: number;

/** A small deterministic PRNG, so a failing workload can be replayed from its seed. */
function prng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

beforeAll(async () => {
  f = await replicationFixture(rules);
  await seedDemoData(f.app.url);
  await f.app.pool.query("INSERT INTO announcements (title, body, published) VALUES ('Welcome', 'hello', true), ('Draft', 'not yet', false)");
  f.start({ chunkSize: 3 }); // tiny chunks: the snapshot crosses many chunk boundaries
  rulesId = await activeVersion(f.storage.pool);
});
afterAll(async () => {
  await f?.drop();
});

describe('replicator on the demo sync rules', () => {
  it('snapshots the seeded data into exactly the buckets the rules select', async () => {
    await waitForCatchUp(f.app.pool, f.storage.pool);
    expect(asObject(await bucketContents(f.storage.pool, rulesId))).toEqual(asObject(await expectedContents(f.app.pool, rules)));
  });

  it('follows a random workload of inserts, updates, bucket moves, TOAST and deletes', async () => {
    const random = prng(Number(process.env.WORKLOAD_SEED ?? 42));
    const pick = <T>(xs: T[]): T => xs[Math.floor(random() * xs.length)]!;
    const users = (await f.app.pool.query<{ id: string }>('SELECT id FROM users')).rows.map((r) => r.id);
    for (let round = 0; round < 12; round++) {
      const lists = (await f.app.pool.query<{ id: string }>('SELECT id FROM lists')).rows.map((r) => r.id);
      const todos = (await f.app.pool.query<{ id: string }>('SELECT id FROM todos')).rows.map((r) => r.id);
      const client = await f.app.pool.connect();
      try {
        await client.query('BEGIN');
        for (let i = 0; i < 8; i++) {
          const roll = random();
          if (roll < 0.3 || todos.length === 0) {
            const notes = random() < 0.3 ? 'n'.repeat(5000 + Math.floor(random() * 5000)) : null;
            await client.query('INSERT INTO todos (list_id, description, notes, created_by) VALUES ($1, $2, $3, $4)', [pick(lists), `todo ${round}.${i}`, notes, pick(users)]);
          } else if (roll < 0.5) {
            // Touches a column other than the (maybe TOASTed) notes: pgoutput sends notes as unchanged.
            await client.query('UPDATE todos SET completed = NOT completed, completed_at = CASE WHEN completed THEN NULL ELSE now() END WHERE id = $1', [pick(todos)]);
          } else if (roll < 0.65) {
            await client.query('UPDATE todos SET list_id = $2 WHERE id = $1', [pick(todos), pick(lists)]);
          } else if (roll < 0.75) {
            await client.query('DELETE FROM todos WHERE id = $1', [pick(todos)]);
          } else if (roll < 0.85) {
            await client.query('INSERT INTO list_members (list_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING', [pick(lists), pick(users)]);
          } else if (roll < 0.92) {
            await client.query('DELETE FROM list_members WHERE ctid = (SELECT ctid FROM list_members ORDER BY random() LIMIT 1)');
          } else {
            const [list] = (await client.query<{ id: string }>('INSERT INTO lists (name, owner_id) VALUES ($1, $2) RETURNING id', [`list ${round}`, pick(users)])).rows;
            lists.push(list!.id);
          }
        }
        await client.query('COMMIT');
      } finally {
        client.release();
      }
    }
    await waitForCatchUp(f.app.pool, f.storage.pool);
    expect(asObject(await bucketContents(f.storage.pool, rulesId))).toEqual(asObject(await expectedContents(f.app.pool, rules)));
  });

  it('keeps the parameter index in step: each user gets the lists they own or are a member of', async () => {
    await waitForCatchUp(f.app.pool, f.storage.pool);
    const users = (await f.app.pool.query<{ id: string }>('SELECT id FROM users')).rows.map((r) => r.id);
    for (const sub of users) {
      const buckets = await rules.bucketsForToken({ sub }, (keys) => lookupParameters(f.storage.pool, rulesId, keys));
      const listBuckets = buckets.map((b) => b.bucket).filter((b) => b.startsWith('list[')).sort();
      const { rows } = await f.app.pool.query<{ id: string }>(
        'SELECT id FROM lists WHERE owner_id = $1 UNION SELECT list_id FROM list_members WHERE user_id = $1',
        [sub],
      );
      expect(listBuckets).toEqual(rows.map((r) => `list${JSON.stringify([r.id])}`).sort());
    }
  });

  it('a transaction becomes visible in one checkpoint, never half of it', async () => {
    const [list] = (await f.app.pool.query<{ id: string }>('SELECT id FROM lists LIMIT 1')).rows;
    const client = await f.app.pool.connect();
    await client.query('BEGIN');
    for (let i = 0; i < 50; i++) await client.query('INSERT INTO todos (list_id, description) VALUES ($1, $2)', [list!.id, `batch ${i}`]);
    await client.query('COMMIT');
    client.release();
    await waitForCatchUp(f.app.pool, f.storage.pool);
    const { rows } = await f.storage.pool.query<{ op_id: string }>(
      "SELECT op_id FROM lockstep.ops WHERE rules_id = $1 AND data LIKE '%\"batch %' ORDER BY op_id",
      [rulesId],
    );
    expect(rows).toHaveLength(50);
    const first = Number(rows[0]!.op_id);
    const last = Number(rows[49]!.op_id);
    const inside = await f.storage.pool.query('SELECT op_id FROM lockstep.checkpoints WHERE rules_id = $1 AND op_id >= $2 AND op_id < $3', [rulesId, first, last]);
    expect(inside.rowCount).toBe(0);
  });

  it('reports its status: version, snapshot progress, last checkpoint, slot, lag, and a WAL warning past the limit', async () => {
    await waitForCatchUp(f.app.pool, f.storage.pool);
    const status = await replicatorStatus(f.app.url, f.storage.url, { walWarnBytes: 1 });
    const active = status.versions.find((v) => v.state === 'active');
    expect(active).toMatchObject({ id: rulesId, snapshot: { complete: true }, slot: { active: true } });
    expect(active!.lastCheckpoint!.opId).toBeGreaterThan(0);
    expect(active!.slot!.lagBytes).toEqual(expect.any(Number));
    expect(active!.lagSeconds).toEqual(expect.any(Number));
    expect(active!.snapshot.tables['public.todos']).toMatchObject({ done: true });
    expect(status.warnings.join('\n')).toMatch(/retains \d+ bytes of WAL/);
    const relaxed = await replicatorStatus(f.app.url, f.storage.url, { walWarnBytes: 1024 ** 4 });
    expect(relaxed.warnings).toEqual([]);
  });
});
