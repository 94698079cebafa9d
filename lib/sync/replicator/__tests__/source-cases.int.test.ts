import { integer, pgTable, primaryKey, text } from 'drizzle-orm/pg-core';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bucket, compileSyncRules, defineSyncRules, eq, from, fromToken, token } from '@/lib/sync/config';
import { isLockstepError } from '@/lib/sync/errors';
import { checkSourceTables } from '../source';
import { activeVersion, asObject, bucketContents, expectedContents, poll, replicationFixture, waitForCatchUp, type ReplicationFixture } from './harness';

// Test-only source tables, one per replica identity and key shape.
const items = pgTable('items', { id: integer('id').primaryKey(), grp: text('grp').notNull(), body: text('body') });
const fulls = pgTable('fulls', { id: text('id').primaryKey(), grp: text('grp').notNull(), body: text('body') });
const indexed = pgTable('indexed', { id: integer('id').primaryKey(), code: text('code').notNull(), grp: text('grp').notNull() });
const pairs = pgTable('pairs', { a: integer('a').notNull(), b: text('b').notNull(), grp: text('grp').notNull() }, (t) => [primaryKey({ columns: [t.a, t.b] })]);

const schemaSql = `
  CREATE TABLE items (id integer PRIMARY KEY, grp text NOT NULL, body text);
  CREATE TABLE fulls (id text PRIMARY KEY, grp text NOT NULL, body text);
  ALTER TABLE fulls REPLICA IDENTITY FULL;
  CREATE TABLE indexed (id integer PRIMARY KEY, code text NOT NULL, grp text NOT NULL);
  CREATE UNIQUE INDEX indexed_id_code ON indexed (id, code);
  ALTER TABLE indexed REPLICA IDENTITY USING INDEX indexed_id_code;
  CREATE TABLE pairs (a integer NOT NULL, b text NOT NULL, grp text NOT NULL, PRIMARY KEY (a, b));
`;

const rules = compileSyncRules(
  defineSyncRules({
    buckets: {
      grouped: bucket({
        parameters: fromToken({ g: token.claim('grp') }),
        data: ({ g }) => [from(items).where(eq(items.grp, g)), from(fulls).where(eq(fulls.grp, g)), from(indexed).where(eq(indexed.grp, g)), from(pairs).where(eq(pairs.grp, g))],
      }),
    },
  }),
);

let f: ReplicationFixture;
let rulesId: number;
const q = (sql: string, values?: unknown[]) => f.app.pool.query(sql, values);
const converged = async () => {
  await waitForCatchUp(f.app.pool, f.storage.pool);
  expect(asObject(await bucketContents(f.storage.pool, rulesId))).toEqual(asObject(await expectedContents(f.app.pool, rules)));
};
const bucketOf = async (bucket: string) => asObject(await bucketContents(f.storage.pool, rulesId))[bucket] ?? {};

beforeAll(async () => {
  f = await replicationFixture(rules, schemaSql);
  await q("INSERT INTO items VALUES (1, 'a', 'one'), (2, 'a', 'two'), (3, 'b', 'three')");
  await q("INSERT INTO fulls VALUES ('x', 'a', 'ex'), ('y', 'b', 'why')");
  await q("INSERT INTO indexed VALUES (1, 'c1', 'a'), (2, 'c2', 'b')");
  await q("INSERT INTO pairs VALUES (1, 'p', 'a'), (1, 'q', 'b')");
  f.start();
  rulesId = await activeVersion(f.storage.pool);
  await converged();
});
afterAll(async () => {
  await f?.drop();
});

describe('source tables', () => {
  it('REPLICA IDENTITY DEFAULT with an integer key: updates, a move between buckets, a delete', async () => {
    await q("UPDATE items SET body = 'uno' WHERE id = 1");
    await q("UPDATE items SET grp = 'b' WHERE id = 2");
    await q('DELETE FROM items WHERE id = 3');
    await converged();
    expect(Object.keys(await bucketOf('grouped["b"]'))).toContain('items/2');
    expect(Object.keys(await bucketOf('grouped["a"]'))).not.toContain('items/2');
  });

  it('REPLICA IDENTITY FULL with a text key', async () => {
    await q("UPDATE fulls SET grp = 'a' WHERE id = 'y'");
    await q("DELETE FROM fulls WHERE id = 'x'");
    await converged();
  });

  it('REPLICA IDENTITY USING INDEX on an index that covers the key', async () => {
    await q("UPDATE indexed SET grp = 'a', code = 'c2b' WHERE id = 2");
    await q('DELETE FROM indexed WHERE id = 1');
    await converged();
  });

  it('a composite primary key, including a change of key', async () => {
    await q("UPDATE pairs SET b = 'r' WHERE a = 1 AND b = 'p'");
    await q("INSERT INTO pairs VALUES (2, 'with \"quotes\"', 'a')");
    await converged();
    const ids = Object.keys(await bucketOf('grouped["a"]')).filter((k) => k.startsWith('pairs/'));
    expect(ids).toEqual(expect.arrayContaining([`pairs/${JSON.stringify(['1', 'r'])}`]));
    expect(ids).not.toContain(`pairs/${JSON.stringify(['1', 'p'])}`);
  });

  it('unchanged TOAST values are filled from storage when a row moves bucket', async () => {
    const big = 'toast '.repeat(4000);
    await q("INSERT INTO items VALUES (10, 'a', $1)", [big]);
    await waitForCatchUp(f.app.pool, f.storage.pool);
    await q("UPDATE items SET grp = 'b' WHERE id = 10");
    await converged();
    expect(JSON.parse((await bucketOf('grouped["b"]'))['items/10']!)).toMatchObject({ body: big });
  });

  it('a column added to a synced table appears in the data without a restart', async () => {
    await q('ALTER TABLE items ADD COLUMN extra text');
    await q("UPDATE items SET extra = 'new column' WHERE id = 1");
    await waitForCatchUp(f.app.pool, f.storage.pool);
    expect(JSON.parse((await bucketOf('grouped["a"]'))['items/1']!)).toMatchObject({ extra: 'new column' });
    // ADD COLUMN itself changes no row: the others carry the column from their next change on.
    expect(JSON.parse((await bucketOf('grouped["b"]'))['items/2']!)).not.toHaveProperty('extra');
    await q("UPDATE items SET extra = 'touched' WHERE id <> 1");
    await converged();
  });

  it('TRUNCATE removes every row of the table from its buckets', async () => {
    await q('TRUNCATE items');
    await converged();
    const all = asObject(await bucketContents(f.storage.pool, rulesId));
    expect(Object.values(all).flatMap((rows) => Object.keys(rows)).filter((k) => k.startsWith('items/'))).toEqual([]);
  });

  it('reconnects and resumes when its connection to Postgres is cut', async () => {
    await q("SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name LIKE 'lockstep%' AND database = current_database()");
    await q("INSERT INTO items VALUES (20, 'a', 'after the cut')");
    await converged();
    expect(Object.keys(await bucketOf('grouped["a"]'))).toContain('items/20');
  });

  it('a row storage still holds (deleted while its table was renamed away) is replaced when inserted again, not stored twice', async () => {
    await q("INSERT INTO items (id, grp, body) VALUES (30, 'a', 'before the rename')");
    await converged();
    await q('ALTER TABLE items RENAME TO items_away');
    await q('DELETE FROM items_away WHERE id = 30'); // ignored: storage keeps items/30 in "a"
    await q('ALTER TABLE items_away RENAME TO items');
    // Storage's row items/30, deleted by a transaction left open: the failing batch below waits
    // for it when its COPY meets the row, after it took the op id counter.
    const holder = await f.storage.pool.connect();
    try {
      await holder.query('BEGIN');
      await holder.query("DELETE FROM lockstep.current_rows WHERE rules_id = $1 AND table_name = 'items' AND row_id = '30'", [rulesId]);
      // One transaction of 300 rows (enough for their ops to go by COPY) that brings id 30 back in another bucket.
      await q("INSERT INTO items (id, grp, body) SELECT g, 'b', 'again' FROM generate_series(30, 329) g");
      await poll(async () => {
        const { rows } = await f.storage.pool.query("SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'COPY lockstep.current_rows%'");
        return rows.length > 0 || undefined;
      }, 30_000, 'the batch to wait for the deleted row');
      // Small transactions behind it, in a batch of their own that queues behind the one that
      // fails. It must not commit in its place: the replicator would resume after the 300 rows.
      for (let id = 400; id < 410; id++) await q(`INSERT INTO items (id, grp, body) VALUES (${id}, 'c', 'behind')`);
      // Once the server has sent them, give the replicator time to plan them and queue the batch.
      const lsn = (await q('SELECT pg_current_wal_insert_lsn()::text AS lsn')).rows[0].lsn as string;
      const slot = (await f.storage.pool.query<{ slot_name: string }>('SELECT slot_name FROM lockstep.rules_versions WHERE id = $1', [rulesId])).rows[0]!.slot_name;
      await poll(async () => {
        const sent = await q('SELECT 1 FROM pg_stat_replication r JOIN pg_replication_slots s ON s.active_pid = r.pid WHERE s.slot_name = $1 AND r.sent_lsn >= $2::pg_lsn', [slot, lsn]);
        return sent.rows.length > 0 || undefined;
      }, 30_000, 'the server to send the small transactions');
      await new Promise((resolve) => setTimeout(resolve, 300));
    } finally {
      await holder.query('ROLLBACK');
      holder.release();
    }
    await converged();
    expect(Object.keys(await bucketOf('grouped["a"]'))).not.toContain('items/30');
  });

  it('a renamed and a dropped synced table are logged, not fatal', async () => {
    await q('ALTER TABLE fulls RENAME TO fulls_old');
    await q("INSERT INTO fulls_old VALUES ('z', 'a', 'ignored')");
    await q('DROP TABLE pairs');
    await q("INSERT INTO items VALUES (21, 'a', 'still replicating')");
    await waitForCatchUp(f.app.pool, f.storage.pool);
    const a = await bucketOf('grouped["a"]');
    expect(Object.keys(a)).toContain('items/21');
    expect(Object.keys(a)).not.toContain('fulls/z');
  });
});

describe('tables the replicator cannot follow', () => {
  it('refuses a table whose deleted rows could not be matched, naming it and the fix', async () => {
    const client = new pg.Client({ connectionString: f.app.url });
    await client.connect();
    try {
      await client.query(`CREATE TABLE nokey (id integer PRIMARY KEY, v text); ALTER TABLE nokey REPLICA IDENTITY NOTHING; ALTER PUBLICATION ${rules.publicationName} ADD TABLE nokey`);
      const error = await checkSourceTables(client, rules.publicationName, [{ schema: 'public', name: 'nokey', primaryKey: ['id'] }]).catch((e: unknown) => e);
      expect(isLockstepError(error, 'NO_USABLE_KEY')).toBe(true);
      expect((error as Error).message).toMatch(/public\.nokey/);
      expect((error as Error).message).toMatch(/REPLICA IDENTITY FULL/);
    } finally {
      await client.end();
    }
  });
});
