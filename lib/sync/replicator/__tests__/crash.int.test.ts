import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import syncConfig from '@/sync.config';
import { compileSyncRules } from '@/lib/sync/config';
import { seedDemoData } from '@/lib/db/seed';
import { activeVersion, asObject, bucketContents, expectedContents, poll, replicationFixture, waitForCatchUp, type ReplicationFixture } from './harness';

const rules = compileSyncRules(syncConfig);
let f: ReplicationFixture;
const children = new Set<ChildProcess>();

function startWorker(): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'workers/replicator.ts'], {
    env: { ...process.env, DATABASE_URL: f.app.url, SYNC_DATABASE_URL: f.storage.url, LOCKSTEP_SNAPSHOT_CHUNK_ROWS: '500', LOCKSTEP_MAX_BATCH_CHANGES: '200', LOCKSTEP_LOG_LEVEL: 'error' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

function kill9(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  f = await replicationFixture(rules);
  await seedDemoData(f.app.url);
  // Enough rows that the snapshot spans many chunks and kills land inside it.
  await f.app.pool.query(`INSERT INTO todos (list_id, description, notes)
    SELECT (SELECT id FROM lists ORDER BY name LIMIT 1 OFFSET (g % 3)), 'bulk ' || g, CASE WHEN g % 50 = 0 THEN repeat('t', 4000) END FROM generate_series(1, 30000) g`);
});
afterAll(async () => {
  await Promise.all([...children].map(kill9));
  await f?.drop();
});

describe('replicator crash safety', () => {
  it('reaches the same state with no op lost or duplicated after kill -9 during the snapshot and during streaming', async () => {
    let seed = 7;
    const random = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);
    // Kills during the snapshot: each lands once a random number of todos rows are committed.
    let killedMidSnapshot = 0;
    for (let i = 0; i < 3; i++) {
      const child = startWorker();
      const threshold = 2000 + Math.floor(random() * 6000) * (i + 1);
      await poll(async () => {
        const { rows } = await f.storage.pool
          .query<{ rows: string | null; complete: boolean }>("SELECT (snapshot_progress->'tables'->'public.todos'->>'rows') AS rows, (snapshot_progress->>'complete')::boolean AS complete FROM lockstep.rules_versions")
          .catch(() => ({ rows: [] as Array<{ rows: string | null; complete: boolean }> }));
        const row = rows[0];
        return row && (row.complete || Number(row.rows ?? 0) >= threshold) ? row : undefined;
      }, 60_000, 'snapshot progress');
      const { rows } = await f.storage.pool.query<{ complete: boolean }>("SELECT (snapshot_progress->>'complete')::boolean AS complete FROM lockstep.rules_versions");
      await kill9(child);
      if (!rows[0]?.complete) killedMidSnapshot++;
    }
    expect(killedMidSnapshot).toBeGreaterThan(0);
    // Kills during streaming, with writes going on.
    let writing = true;
    const writer = (async () => {
      let n = 0;
      while (writing) {
        await f.app.pool.query(`WITH t AS (SELECT id FROM todos ORDER BY random() LIMIT 20)
          UPDATE todos SET completed = NOT completed, list_id = (SELECT id FROM lists ORDER BY random() LIMIT 1) WHERE id IN (SELECT id FROM t)`);
        await f.app.pool.query("INSERT INTO todos (list_id, description) SELECT id, 'streamed ' || $1 FROM lists", [n++]);
        await f.app.pool.query('DELETE FROM todos WHERE id IN (SELECT id FROM todos ORDER BY random() LIMIT 5)');
      }
    })();
    for (let i = 0; i < 4; i++) {
      const child = startWorker();
      await sleep(2500 + random() * 2000);
      await kill9(child);
    }
    writing = false;
    await writer;

    startWorker();
    const rulesId = await activeVersion(f.storage.pool, 60_000);
    await waitForCatchUp(f.app.pool, f.storage.pool, 60_000);
    expect(asObject(await bucketContents(f.storage.pool, rulesId))).toEqual(asObject(await expectedContents(f.app.pool, rules)));

    // No op written twice: a replayed change would show as two identical consecutive ops of a row.
    const dupes = await f.storage.pool.query(
      `SELECT bucket, row_id FROM (
         SELECT bucket, row_id, op, data, lag(op) OVER w AS prev_op, lag(data) OVER w AS prev_data
           FROM lockstep.ops WHERE rules_id = $1 AND op IN ('PUT', 'REMOVE') WINDOW w AS (PARTITION BY bucket, table_name, row_id ORDER BY op_id)
       ) x WHERE op = prev_op AND data IS NOT DISTINCT FROM prev_data`,
      [rulesId],
    );
    expect(dupes.rows).toEqual([]);
    const ids = await f.storage.pool.query<{ n: string; distinct_ids: string }>('SELECT count(*) AS n, count(DISTINCT op_id) AS distinct_ids FROM lockstep.ops WHERE rules_id = $1', [rulesId]);
    expect(ids.rows[0]!.n).toBe(ids.rows[0]!.distinct_ids);
  }, 180_000);
});
