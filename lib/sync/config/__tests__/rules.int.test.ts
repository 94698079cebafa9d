import fc from 'fast-check';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import rulesConfig from '@/sync.config';
import { createTestDatabase, type TestDatabase } from '@/test/db';
import { bucketIdOf, compileSyncRules, type SourceRow } from '@/lib/sync/config';

const rules = compileSyncRules(rulesConfig);
const TABLES = ['users', 'lists', 'list_members', 'todos', 'announcements'] as const;
type Table = (typeof TABLES)[number];

let t: TestDatabase;
let client: pg.PoolClient;

beforeAll(async () => {
  t = await createTestDatabase({ prefix: 'rules' });
  client = await t.pool.connect();
});
afterAll(async () => {
  client?.release();
  await t?.drop();
});

/** Every row of a table in Postgres text output format, as pgoutput and COPY deliver it. */
async function textRows(table: Table): Promise<SourceRow[]> {
  const result = await client.query<SourceRow>({ text: `SELECT * FROM ${table}`, types: { getTypeParser: () => (value: string) => value } });
  return result.rows;
}

const text = fc.string({ unit: fc.constantFrom('a', 'Z', ' ', '"', '\\', '\n', "'", 'é', '✓', '😀', '{', ','), maxLength: 12 });
const instant = fc
  .tuple(fc.date({ min: new Date('1990-01-01T00:00:00Z'), max: new Date('2040-01-01T00:00:00Z'), noInvalidDate: true }), fc.integer({ min: 0, max: 999 }))
  .map(([d, micros]) => `${d.toISOString().slice(0, 23)}${String(micros).padStart(3, '0')}Z`);
const dataset = fc.record({
  timeZone: fc.constantFrom('UTC', 'Asia/Kolkata', 'America/St_Johns', 'Pacific/Chatham', 'Europe/Berlin'),
  users: fc.array(fc.record({ name: fc.option(text, { nil: null }), passwordHash: fc.option(text, { nil: null }) }), { minLength: 1, maxLength: 5 }),
  lists: fc.array(fc.record({ owner: fc.nat(), name: text }), { maxLength: 6 }),
  members: fc.array(fc.record({ list: fc.nat(), user: fc.nat(), role: fc.constantFrom('editor', 'viewer') }), { maxLength: 10 }),
  todos: fc.array(
    fc.record({ list: fc.nat(), description: text, notes: fc.option(text, { nil: null }), completed: fc.boolean(), completedAt: fc.option(instant, { nil: null }), createdBy: fc.option(fc.nat(), { nil: null }) }),
    { maxLength: 15 },
  ),
  announcements: fc.array(fc.record({ title: text, published: fc.boolean(), createdAt: instant }), { maxLength: 4 }),
});
type Dataset = typeof dataset extends fc.Arbitrary<infer T> ? T : never;

async function load(data: Dataset): Promise<void> {
  await client.query('TRUNCATE users, lists, list_members, todos, announcements CASCADE');
  const ids = async (sql: string, values: unknown[][]) => {
    const out: string[] = [];
    for (const v of values) out.push((await client.query<{ id: string }>(sql, v)).rows[0]!.id);
    return out;
  };
  const users = await ids(
    'INSERT INTO users (email, name, password_hash) VALUES ($1, $2, $3) RETURNING id',
    data.users.map((u, i) => [`user${i}@example.com`, u.name, u.passwordHash]),
  );
  const pick = <T>(xs: T[], i: number) => xs[i % xs.length]!;
  const lists = await ids('INSERT INTO lists (name, owner_id) VALUES ($1, $2) RETURNING id', data.lists.map((l) => [l.name, pick(users, l.owner)]));
  if (lists.length > 0) {
    for (const m of data.members) await client.query('INSERT INTO list_members VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [pick(lists, m.list), pick(users, m.user), m.role]);
    for (const todo of data.todos) {
      await client.query('INSERT INTO todos (list_id, description, notes, completed, completed_at, created_by) VALUES ($1, $2, $3, $4, $5, $6)', [
        pick(lists, todo.list),
        todo.description,
        todo.notes,
        todo.completed,
        todo.completedAt,
        todo.createdBy === null ? null : pick(users, todo.createdBy),
      ]);
    }
  }
  for (const a of data.announcements) await client.query('INSERT INTO announcements (title, body, published, created_at) VALUES ($1, $1, $2, $3)', [a.title, a.published, a.createdAt]);
  await client.query(`SET TimeZone = '${data.timeZone}'`);
}

/** The equivalent SQL: which row of which table lands in which bucket. */
const EXPECTED_PLACEMENTS = `
  SELECT 'me' AS bucket, id::text AS param, 'users' AS tbl, ARRAY[id::text] AS key FROM users
  UNION ALL SELECT 'list', id::text, 'lists', ARRAY[id::text] FROM lists
  UNION ALL SELECT 'list', list_id::text, 'todos', ARRAY[id::text] FROM todos
  UNION ALL SELECT 'list', list_id::text, 'list_members', ARRAY[list_id::text, user_id::text] FROM list_members
  UNION ALL SELECT 'announcements', NULL, 'announcements', ARRAY[id::text] FROM announcements WHERE published`;

/** The equivalent SQL: the lists a user may see (owner or member). */
const VISIBLE_LISTS = 'SELECT id::text AS id FROM lists WHERE owner_id = $1 UNION SELECT list_id::text FROM list_members WHERE user_id = $1';

const ISO_UTC = `'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'`;
const EXPECTED_TODO_DATA = `
  SELECT id::text, json_build_object('id', id, 'list_id', list_id, 'description', description, 'notes', notes,
    'completed', CASE WHEN completed THEN 1 ELSE 0 END,
    'completed_at', to_char(completed_at AT TIME ZONE 'UTC', ${ISO_UTC}), 'created_by', created_by,
    'created_at', to_char(created_at AT TIME ZONE 'UTC', ${ISO_UTC}))::text AS data FROM todos`;

const placementKey = (bucket: string, table: string, rowId: string) => `${bucket} ${table} ${rowId}`;

describe('sync rules against Postgres', () => {
  it('are published by the migration: exactly the tables the rules read', async () => {
    const published = await client.query<{ schemaname: string; tablename: string }>("SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = 'lockstep'");
    expect(rules.publicationDrift(published.rows)).toEqual({ missing: [], extra: [] });
    await client.query(rules.publicationSql());
    await client.query(rules.publicationSql());
    expect((await client.query("SELECT count(*)::int AS n FROM pg_publication_tables WHERE pubname = 'lockstep'")).rows[0].n).toBe(rules.sourceTables.length);
  });

  it('place rows in buckets, index parameters and resolve tokens exactly as the equivalent SQL says', async () => {
    await fc.assert(
      fc.asyncProperty(dataset, async (data) => {
        await load(data);
        const rows = Object.fromEntries(await Promise.all(TABLES.map(async (table) => [table, await textRows(table)] as const))) as Record<Table, SourceRow[]>;

        // Row evaluator: every (bucket, table, row) placement, versus SQL.
        const placed = new Map<string, string>();
        for (const table of TABLES) for (const row of rows[table]) for (const r of rules.evaluateRow(table, row)) placed.set(placementKey(r.bucket, r.table, r.rowId), r.data);
        const expected = await client.query<{ bucket: string; param: string | null; tbl: string; key: string[] }>(EXPECTED_PLACEMENTS);
        const expectedKeys = expected.rows.map((e) => placementKey(bucketIdOf(e.bucket, e.param === null ? [] : [e.param]), e.tbl, e.key.length === 1 ? e.key[0]! : JSON.stringify(e.key)));
        expect([...placed.keys()].sort()).toEqual(expectedKeys.sort());

        // Wire data: the type mapping agrees with Postgres' own JSON, whatever the session time zone.
        for (const { id, data: sqlData } of (await client.query<{ id: string; data: string }>(EXPECTED_TODO_DATA)).rows) {
          const ours = [...placed].find(([key]) => key.endsWith(` todos ${id}`))![1];
          expect(Object.keys(JSON.parse(ours))).toEqual(Object.keys(JSON.parse(sqlData)));
          expect(JSON.parse(ours)).toEqual(JSON.parse(sqlData));
        }
        for (const [key, userData] of placed) if (key.includes(' users ')) expect(JSON.parse(userData)).not.toHaveProperty('password_hash');

        // Parameter index + token resolution: each user's buckets, and the rows they receive.
        const index = new Map<string, string[][]>();
        for (const table of TABLES) for (const row of rows[table]) for (const e of rules.evaluateParameterRow(table, row)) index.set(e.lookup, [...(index.get(e.lookup) ?? []), e.values]);
        const lookup = async (keys: string[]) => new Map(keys.map((k) => [k, index.get(k) ?? []]));
        for (const user of rows.users) {
          const userId = user.id!;
          const grants = await rules.bucketsForToken({ sub: userId }, lookup);
          const visible = (await client.query<{ id: string }>(VISIBLE_LISTS, [userId])).rows.map((r) => bucketIdOf('list', [r.id]));
          expect(grants.map((g) => g.bucket).sort()).toEqual([bucketIdOf('me', [userId]), 'announcements[]', ...visible].sort());

          const mine = new Set(grants.map((g) => g.bucket));
          const received = new Set([...placed.keys()].filter((k) => mine.has(k.split(' ')[0]!)).map((k) => k.split(' ').slice(1).join(' ')));
          const sqlRows = await client.query<{ tbl: string; id: string }>(
            `SELECT 'users' AS tbl, id::text FROM users WHERE id = $1
             UNION ALL SELECT 'lists', id::text FROM lists WHERE id::text IN (${VISIBLE_LISTS})
             UNION ALL SELECT 'todos', id::text FROM todos WHERE list_id::text IN (${VISIBLE_LISTS})
             UNION ALL SELECT 'list_members', json_build_array(list_id, user_id)::text FROM list_members WHERE list_id::text IN (${VISIBLE_LISTS})
             UNION ALL SELECT 'announcements', id::text FROM announcements WHERE published`,
            [userId],
          );
          const expectedRows = sqlRows.rows.map((r) => `${r.tbl} ${r.tbl === 'list_members' ? JSON.stringify(JSON.parse(r.id)) : r.id}`);
          expect([...received].sort()).toEqual(expectedRows.sort());
        }
      }),
      { numRuns: 25 },
    );
  });
});
