import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import syncConfig from '@/sync.config';
import { compileSyncRules } from '@/lib/sync/config';
import { seedDemoData } from '@/lib/db/seed';
import { activeVersion, asObject, bucketContents, expectedContents, poll, replicationFixture, waitForCatchUp, type ReplicationFixture } from './harness';

/**
 * A snapshot interrupted after some chunks resumes without the slot's exported snapshot: it reads
 * the rest of each table as it is now, and streaming then replays every change since the slot was
 * created, some of which the rows read after the resume already reflect. Those rows are stored with
 * a hash (row-state.ts), so such a replay emits nothing, while every other change is applied.
 */
const rules = compileSyncRules(syncConfig);
let f: ReplicationFixture;
const q = (sql: string, values?: unknown[]) => f.app.pool.query(sql, values);

beforeAll(async () => {
  f = await replicationFixture(rules);
  await seedDemoData(f.app.url);
  await q(`INSERT INTO todos (list_id, description, notes)
    SELECT (SELECT id FROM lists ORDER BY name LIMIT 1 OFFSET (g % 2)), 'resume ' || g, CASE WHEN g % 40 = 0 THEN repeat('n', 3000) END FROM generate_series(1, 3000) g`);
});
afterAll(async () => {
  await f?.drop();
});

describe('a snapshot resumed after an interruption', () => {
  it('ends in the source state, with no change applied twice', async () => {
    const first = f.start({ chunkSize: 100 });
    await poll(async () => {
      const { rows } = await f.storage.pool.query<{ rows: string | null }>("SELECT snapshot_progress->'tables'->'public.todos'->>'rows' AS rows FROM lockstep.rules_versions");
      return Number(rows[0]?.rows ?? 0) >= 1000 ? true : undefined;
    }, 60_000, 'part of the todos snapshotted');
    await first.stop();
    const { rows } = await f.storage.pool.query<{ complete: boolean }>("SELECT (snapshot_progress->>'complete')::boolean AS complete FROM lockstep.rules_versions");
    expect(rows[0]?.complete).toBe(false);

    // Changes while it is stopped, to rows on both sides of the last committed key.
    const lists = (await q('SELECT id FROM lists ORDER BY name')).rows.map((r: { id: string }) => r.id);
    await q("UPDATE todos SET description = description || ' edited' WHERE id IN (SELECT id FROM todos ORDER BY id OFFSET 500 LIMIT 1500)");
    await q('UPDATE todos SET list_id = $1 WHERE id IN (SELECT id FROM todos ORDER BY id DESC LIMIT 300)', [lists[2]]);
    await q("UPDATE todos SET completed = true, notes = repeat('m', 3000) WHERE id IN (SELECT id FROM todos ORDER BY id OFFSET 2000 LIMIT 50)");
    await q('DELETE FROM todos WHERE id IN (SELECT id FROM todos ORDER BY id OFFSET 1200 LIMIT 100)');
    await q("INSERT INTO todos (list_id, description) SELECT $1, 'late ' || g FROM generate_series(1, 200) g", [lists[0]]);

    f.start({ chunkSize: 100 });
    const rulesId = await activeVersion(f.storage.pool, 60_000);
    await waitForCatchUp(f.app.pool, f.storage.pool, 60_000);
    expect(asObject(await bucketContents(f.storage.pool, rulesId))).toEqual(asObject(await expectedContents(f.app.pool, rules)));

    // A change replayed onto a row that already reflects it would show as two identical consecutive ops.
    const dupes = await f.storage.pool.query(
      `SELECT bucket, row_id FROM (
         SELECT bucket, row_id, op, data, lag(op) OVER w AS prev_op, lag(data) OVER w AS prev_data
           FROM lockstep.ops WHERE rules_id = $1 AND op IN ('PUT', 'REMOVE') WINDOW w AS (PARTITION BY bucket, table_name, row_id ORDER BY op_id)
       ) x WHERE op = prev_op AND data IS NOT DISTINCT FROM prev_data`,
      [rulesId],
    );
    expect(dupes.rows).toEqual([]);

    // After the first checkpoint, rows are stored without a hash.
    await q("UPDATE todos SET completed = NOT completed WHERE description LIKE 'late %'");
    await waitForCatchUp(f.app.pool, f.storage.pool);
    expect(asObject(await bucketContents(f.storage.pool, rulesId))).toEqual(asObject(await expectedContents(f.app.pool, rules)));
    const hashes = await f.storage.pool.query<{ hashed: string; opaque: string }>(
      `SELECT count(*) FILTER (WHERE values_hash <> '') AS hashed, count(*) FILTER (WHERE values_hash = '') AS opaque FROM lockstep.current_rows WHERE rules_id = $1 AND table_name = $2`,
      [rulesId, rules.tableKey('public', 'todos')],
    );
    expect(Number(hashes.rows[0]!.hashed)).toBeGreaterThan(0); // read after the resume, or changed before the first checkpoint
    expect(Number(hashes.rows[0]!.opaque)).toBeGreaterThan(0); // read with the exported snapshot
  }, 120_000);
});
