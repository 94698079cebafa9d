import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import syncConfig from '@/sync.config';
import { compileSyncRules } from '@/lib/sync/config';
import { seedDemoData } from '@/lib/db/seed';
import { activeVersion, asObject, bucketContents, expectedContents, replicationFixture, waitForCatchUp, type ReplicationFixture } from './harness';

/**
 * A snapshot chunk writes its PUTs bucket by bucket: rows read in key order belong to buckets in
 * no particular order, and ops written in that order would scatter each bucket's ops over the
 * heap, so that reading one bucket back visits every page of every bucket.
 */
const rules = compileSyncRules(syncConfig);
let f: ReplicationFixture;
const q = (sql: string, values?: unknown[]) => f.app.pool.query(sql, values);
const ROWS = 3000;
const CHUNK = 500;

beforeAll(async () => {
  f = await replicationFixture(rules);
  await seedDemoData(f.app.url);
  // Two lists' todos, interleaved in key order (random uuids).
  await q(`INSERT INTO todos (list_id, description)
    SELECT (SELECT id FROM lists ORDER BY name LIMIT 1 OFFSET (g % 2)), 'layout ' || g FROM generate_series(1, ${ROWS}) g`);
});
afterAll(async () => {
  await f?.drop();
});

describe('a snapshot chunk', () => {
  it("writes each bucket's ops together, and the buckets still hold what the rules select", async () => {
    f.start({ chunkSize: CHUNK });
    const rulesId = await activeVersion(f.storage.pool, 60_000);
    await waitForCatchUp(f.app.pool, f.storage.pool, 60_000);
    expect(asObject(await bucketContents(f.storage.pool, rulesId))).toEqual(asObject(await expectedContents(f.app.pool, rules)));

    // Per bucket of the two lists: its runs of consecutive op ids. Written bucket by bucket, a
    // chunk adds one run to each bucket it touches; in key order, about one run per op.
    const { rows } = await f.storage.pool.query<{ bucket: string; ops: number; runs: number }>(
      `SELECT bucket, count(*)::int AS ops, count(*) FILTER (WHERE prev IS DISTINCT FROM op_id - 1)::int AS runs
         FROM (SELECT bucket, op_id, lag(op_id) OVER (PARTITION BY bucket ORDER BY op_id) AS prev
                 FROM lockstep.ops WHERE rules_id = $1 AND table_name = 'todos') o
        GROUP BY bucket HAVING count(*) >= $2 ORDER BY bucket`,
      [rulesId, ROWS / 4],
    );
    expect(rows.length).toBe(2);
    const chunks = Math.ceil((ROWS + 100) / CHUNK) + 1;
    for (const r of rows) expect(r.runs, `${r.bucket}: ${r.ops} ops in ${r.runs} runs`).toBeLessThanOrEqual(chunks);
  });
});
