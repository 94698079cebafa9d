import { bigint, boolean, integer, jsonb, pgSchema, pgTable, primaryKey, text } from 'drizzle-orm/pg-core';
import { describe, expect, it } from 'vitest';
import rulesConfig from '@/sync.config';
import { isLockstepError } from '@/lib/sync/errors';
import { bucket, compileSyncRules, defineSyncRules, eq, from, fromToken, inArray, lookup, RowErrorCode, token, type ParameterLookup } from '@/lib/sync/config';

const rules = compileSyncRules(rulesConfig);
const U1 = '11111111-1111-4111-8111-111111111111';
const U2 = '22222222-2222-4222-8222-222222222222';
const L1 = 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa';
const T1 = 'dddddddd-dddd-4ddd-8ddd-dddddddddddd';

const todo = { id: T1, list_id: L1, description: 'Buy "milk"', notes: null, completed: 't', completed_at: '2026-01-02 03:04:05.678+00', created_by: U1, created_at: '2026-01-02 03:04:05+00' };

/** A parameter index in memory, filled by evaluateParameterRow like bucket storage would be. */
function indexOf(entries: Array<{ table: string; row: Record<string, string | null> }>, compiled = rules): ParameterLookup & { keys: string[][] } {
  const index = new Map<string, string[][]>();
  for (const { table, row } of entries) for (const e of compiled.evaluateParameterRow(table, row)) index.set(e.lookup, [...(index.get(e.lookup) ?? []), e.values]);
  const calls: string[][] = [];
  const fn = async (keys: string[]) => {
    calls.push(keys);
    return new Map(keys.map((k) => [k, index.get(k) ?? []]));
  };
  return Object.assign(fn, { keys: calls });
}

describe('evaluateRow on the demo rules', () => {
  it('puts a todo in its list bucket with type-mapped data in column order', () => {
    expect(rules.evaluateRow('todos', todo)).toEqual([
      {
        bucket: `list["${L1}"]`,
        table: 'todos',
        rowId: T1,
        data: `{"id":"${T1}","list_id":"${L1}","description":"Buy \\"milk\\"","notes":null,"completed":1,"completed_at":"2026-01-02T03:04:05.678000Z","created_by":"${U1}","created_at":"2026-01-02T03:04:05.000000Z"}`,
      },
    ]);
    expect(rules.evaluateRow('public.todos', todo)).toEqual(rules.evaluateRow('todos', todo));
  });

  it('syncs users without password_hash, list members under their list, announcements only when published', () => {
    const [me] = rules.evaluateRow('users', { id: U1, email: 'a@example.com', name: null, password_hash: 'secret', created_at: '2026-01-02 03:04:05+00' });
    expect(me?.bucket).toBe(`me["${U1}"]`);
    expect(me?.data).not.toContain('secret');
    expect(JSON.parse(me!.data)).toEqual({ id: U1, email: 'a@example.com', name: null, created_at: '2026-01-02T03:04:05.000000Z' });
    expect(rules.evaluateRow('list_members', { list_id: L1, user_id: U2, role: 'editor' })).toEqual([
      { bucket: `list["${L1}"]`, table: 'list_members', rowId: JSON.stringify([L1, U2]), data: `{"list_id":"${L1}","user_id":"${U2}","role":"editor"}` },
    ]);
    const announcement = { id: T1, title: 'Hi', body: 'Welcome', published: 't', created_at: '2026-01-02 03:04:05+00' };
    expect(rules.evaluateRow('announcements', announcement).map((r) => r.bucket)).toEqual(['announcements[]']);
    expect(rules.evaluateRow('announcements', { ...announcement, published: 'f' })).toEqual([]);
  });

  it('returns nothing for tables the rules do not read, and names the column of a bad or missing value', () => {
    expect(rules.evaluateRow('sessions', { id: '1' })).toEqual([]);
    const missing = (() => {
      try {
        rules.evaluateRow('todos', { ...todo, notes: undefined });
      } catch (error) {
        return error;
      }
    })();
    expect(isLockstepError(missing, RowErrorCode.incomplete)).toBe(true);
    expect(String(missing)).toContain('"notes"');
    expect(() => rules.evaluateRow('todos', { ...todo, completed: 'yes' })).toThrow(/todos, column "completed": expected t or f/);
    expect(() => rules.evaluateRow('todos', { ...todo, list_id: 'nope' })).toThrow(/column "list_id": expected a uuid/);
  });
});

describe('parameters and tokens on the demo rules', () => {
  const index = () =>
    indexOf([
      { table: 'lists', row: { id: L1, name: 'Groceries', owner_id: U1, created_at: '2026-01-02 03:04:05+00' } },
      { table: 'list_members', row: { list_id: L1, user_id: U2, role: 'editor' } },
    ]);

  it('indexes owners and members under opaque lookup keys', () => {
    expect(rules.evaluateParameterRow('lists', { id: L1, name: 'x', owner_id: U1, created_at: '2026-01-02 03:04:05+00' })).toEqual([{ lookup: `list/1["${U1}"]`, values: [L1] }]);
    expect(rules.evaluateParameterRow('list_members', { list_id: L1, user_id: U2, role: 'editor' })).toEqual([{ lookup: `list/2["${U2}"]`, values: [L1] }]);
    expect(rules.evaluateParameterRow('todos', todo)).toEqual([]);
  });

  it('resolves buckets for owner and member with one batched lookup, by priority', async () => {
    const lookup = index();
    expect(await rules.bucketsForToken({ sub: U1 }, lookup)).toEqual([
      { bucket: `me["${U1}"]`, priority: 0 },
      { bucket: `list["${L1}"]`, priority: 1 },
      { bucket: 'announcements[]', priority: 3 },
    ]);
    expect(lookup.keys).toEqual([[`list/1["${U1}"]`, `list/2["${U1}"]`]]);
    expect(await rules.bucketsForToken({ sub: U2 }, index())).toEqual([
      { bucket: `me["${U2}"]`, priority: 0 },
      { bucket: `list["${L1}"]`, priority: 1 },
      { bucket: 'announcements[]', priority: 3 },
    ]);
  });

  it('normalises a claim to the column type and ignores a claim that is not a valid value', async () => {
    expect((await rules.bucketsForToken({ sub: U1.toUpperCase() }, index())).map((g) => g.bucket)).toContain(`list["${L1}"]`);
    expect(await rules.bucketsForToken({ sub: 'not-a-uuid' }, index())).toEqual([{ bucket: 'announcements[]', priority: 3 }]);
    expect(await rules.bucketsForToken({}, index())).toEqual([{ bucket: 'announcements[]', priority: 3 }]);
  });
});

const org = pgSchema('org');
const teams = org.table('teams', { id: integer('id').primaryKey(), name: text('name').notNull(), archived: boolean('archived').notNull() });
const seats = pgTable('seats', { teamId: integer('team_id').notNull(), userId: text('user_id').notNull(), kind: text('kind').notNull() }, (t) => [primaryKey({ columns: [t.teamId, t.userId] })]);
const docs = pgTable('docs', { id: bigint('id', { mode: 'bigint' }).primaryKey(), teamId: integer('team_id'), region: text('region').notNull(), meta: jsonb('meta') });

const custom = compileSyncRules(
  defineSyncRules({
    buckets: {
      teamRegion: bucket({
        parameters: [
          lookup(seats, { teamId: seats.teamId }).where(eq(seats.userId, token.sub), inArray(seats.kind, ['admin', 'member'])),
          lookup(teams, { teamId: teams.id }).where(eq(teams.id, token.claim('team_ids', 'number[]')), eq(teams.archived, false)),
        ],
        data: ({ teamId }) => [from(docs).where(eq(docs.teamId, teamId), inArray(docs.region, ['eu', 'us'])), from(teams).where(eq(teams.id, teamId))],
      }),
      pair: bucket({
        parameters: fromToken({ region: token.claim('region'), teamId: token.claim('team', 'number') }),
        data: ({ region, teamId }) => [from(docs).select(docs.id, docs.meta).as('doc_meta').where(eq(docs.region, region), eq(docs.teamId, teamId))],
      }),
    },
  }),
);

describe('evaluators on rules with several parameters, constants, IN and composite keys', () => {
  const doc = { id: '9007199254740993', team_id: '7', region: 'eu', meta: '{"a": [1]}' };

  it('places a row in every bucket instance it matches, sharing nothing it should not', () => {
    expect(custom.evaluateRow('docs', doc)).toEqual([
      { bucket: 'teamRegion["7"]', table: 'docs', rowId: '9007199254740993', data: '{"id":9007199254740993,"team_id":7,"region":"eu","meta":"{\\"a\\": [1]}"}' },
      { bucket: 'pair["eu","7"]', table: 'doc_meta', rowId: '9007199254740993', data: '{"id":9007199254740993,"meta":"{\\"a\\": [1]}"}' },
    ]);
    expect(custom.evaluateRow('docs', { ...doc, region: 'ap' }).map((r) => r.bucket)).toEqual(['pair["ap","7"]']);
    expect(custom.evaluateRow('docs', { ...doc, team_id: null })).toEqual([]);
  });

  it('knows schema-qualified tables and composite row ids', () => {
    expect(custom.tableKey('org', 'teams')).toBe('org.teams');
    expect(custom.isDataTable('org.teams')).toBe(true);
    expect(custom.isDataTable('teams')).toBe(false);
    expect(custom.isParameterTable('seats')).toBe(true);
    expect(custom.isDataTable('seats')).toBe(false);
    expect(custom.rowId('seats', { team_id: '7', user_id: 'u"1', kind: 'admin' })).toBe('["7","u\\"1"]');
    expect(() => custom.rowId('seats', { team_id: null, user_id: 'u', kind: 'admin' })).toThrow(expect.objectContaining({ code: RowErrorCode.nullKey }));
    expect(custom.evaluateRow('org.teams', { id: '7', name: 'Core', archived: 'f' })[0]?.bucket).toBe('teamRegion["7"]');
  });

  it('applies lookup constants, and expands array claims into one lookup per element', async () => {
    expect(custom.evaluateParameterRow('seats', { team_id: '7', user_id: 'u1', kind: 'guest' })).toEqual([]);
    expect(custom.evaluateParameterRow('org.teams', { id: '8', name: 'Ops', archived: 't' })).toEqual([]);
    const lookup = indexOf(
      [
        { table: 'seats', row: { team_id: '7', user_id: 'u1', kind: 'admin' } },
        { table: 'org.teams', row: { id: '8', name: 'Ops', archived: 'f' } },
        { table: 'org.teams', row: { id: '9', name: 'Old', archived: 't' } },
      ],
      custom,
    );
    const grants = await custom.bucketsForToken({ sub: 'u1', team_ids: [8, 9, 'x'], region: 'eu', team: 7 }, lookup);
    expect(grants.map((g) => g.bucket)).toEqual(['pair["eu","7"]', 'teamRegion["7"]', 'teamRegion["8"]']);
    expect(lookup.keys).toEqual([['teamRegion/1["u1"]', 'teamRegion/2["8"]', 'teamRegion/2["9"]']]);
  });

  it('places a row matched by two queries of one bucket once', () => {
    const twice = compileSyncRules(
      defineSyncRules({ buckets: { eu: bucket({ data: () => [from(docs).where(eq(docs.region, 'eu')), from(docs).where(inArray(docs.region, ['eu', 'us']))] }) } }),
    );
    expect(twice.evaluateRow('docs', doc).map((r) => r.bucket)).toEqual(['eu[]']);
    expect(twice.evaluateRow('docs', { ...doc, region: 'us' }).map((r) => r.bucket)).toEqual(['eu[]']);
  });

  it('refuses parameter index entries that do not fit the bucket', async () => {
    const bad: ParameterLookup = async (keys) => new Map(keys.map((k) => [k, [['1', '2']]]));
    await expect(custom.bucketsForToken({ sub: 'u1' }, bad)).rejects.toThrow(/bucket "teamRegion" has 1 string parameter/);
  });
});
