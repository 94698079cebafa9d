import { bigint, integer, pgTable, text } from 'drizzle-orm/pg-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bucket, compileSyncRules, defineSyncRules, eq, from, fromToken, token } from '@/lib/sync/config';
import { activeVersion, asObject, bucketContents, expectedContents, replicationFixture, waitForCatchUp, type ReplicationFixture } from './harness';

/**
 * Bucket storage keeps only the values pgoutput may send as "unchanged TOAST" (row-state.ts).
 * Postgres moves a value out of line whenever the row is too wide, not only when the value is
 * large: in a row of many medium columns, 60-byte texts and int8 arrays whose text is 17
 * characters are stored out of line, and come back as unchanged TOAST when another column is
 * updated. They must still be filled (a rule on text length alone would lose the arrays).
 */
const TEXTS = Array.from({ length: 36 }, (_, i) => `t${i}`);
const ARRAYS = Array.from({ length: 48 }, (_, i) => `a${i}`);
const wide = pgTable('wide', {
  id: integer('id').primaryKey(),
  grp: text('grp').notNull(),
  ...Object.fromEntries(TEXTS.map((c) => [c, text(c)])),
  ...Object.fromEntries(ARRAYS.map((c) => [c, bigint(c, { mode: 'number' }).array()])),
});
const schemaSql = `CREATE TABLE wide (id integer PRIMARY KEY, grp text NOT NULL, ${[...TEXTS.map((c) => `${c} text`), ...ARRAYS.map((c) => `${c} bigint[]`)].join(', ')})`;
// md5 hex is incompressible enough that pglz gives up, so values go out of line uncompressed.
const insertSql = (ids: string) =>
  `INSERT INTO wide SELECT g, 'a', ${TEXTS.map((_, i) => `md5(g::text || '${i}') || substr(md5('${i}' || g::text), 1, 28)`).join(', ')}, ${ARRAYS.map((_, i) => `ARRAY[g % 10, ${i % 10}, 2, 3, 4, 5, 6, 7]::bigint[]`).join(', ')} FROM ${ids} g`;

const rules = compileSyncRules(
  defineSyncRules({
    buckets: {
      grouped: bucket({ parameters: fromToken({ g: token.claim('grp') }), data: ({ g }) => [from(wide).where(eq(wide.grp, g))] }),
    },
  }),
);

let f: ReplicationFixture;
let rulesId: number;
const q = (sql: string, values?: unknown[]) => f.app.pool.query(sql, values);

beforeAll(async () => {
  f = await replicationFixture(rules, schemaSql);
  await q(insertSql('generate_series(1, 20)')); // snapshotted
  f.start();
  rulesId = await activeVersion(f.storage.pool);
  await q(insertSql('generate_series(21, 40)')); // streamed
  await waitForCatchUp(f.app.pool, f.storage.pool);
});
afterAll(async () => {
  await f?.drop();
});

describe('unchanged TOAST values of a wide row', () => {
  it('are stored out of line even though each is small', async () => {
    const { rows } = await q("SELECT current_setting('server_version_num')::int >= 170000 AS has_fn");
    if (!rows[0].has_fn) return; // pg_column_toast_chunk_id is Postgres 17+
    const out = await q(`SELECT count(*) FILTER (WHERE pg_column_toast_chunk_id(t0) IS NOT NULL) AS texts,
                                count(*) FILTER (WHERE pg_column_toast_chunk_id(a0) IS NOT NULL AND length(a0::text) <= 20) AS arrays FROM wide`);
    expect(Number(out.rows[0].texts)).toBeGreaterThan(0);
    expect(Number(out.rows[0].arrays)).toBeGreaterThan(0);
  });

  it('are filled from storage when another column changes, for snapshotted and streamed rows', async () => {
    await q("UPDATE wide SET grp = 'b' WHERE id % 2 = 0");
    await waitForCatchUp(f.app.pool, f.storage.pool);
    expect(asObject(await bucketContents(f.storage.pool, rulesId))).toEqual(asObject(await expectedContents(f.app.pool, rules)));
    await q("UPDATE wide SET grp = 'c' WHERE id % 3 = 0");
    await q('DELETE FROM wide WHERE id % 5 = 0');
    await waitForCatchUp(f.app.pool, f.storage.pool);
    const contents = asObject(await bucketContents(f.storage.pool, rulesId));
    expect(contents).toEqual(asObject(await expectedContents(f.app.pool, rules)));
    expect(Object.keys(contents['grouped["c"]'] ?? {}).length).toBeGreaterThan(0);
  });
});
