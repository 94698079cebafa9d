import { describe, expect, it } from 'vitest';
import syncConfig from '@/sync.config';
import { compileSyncRules } from '@/lib/sync/config';
import type { CurrentRow } from '@/lib/sync/storage';
import { ChangePlanner, SKIP_INSERT_LOOKUPS_FROM, type SourceChange } from './changes';
import { encodePlacement } from './placements';
import { rowHash } from './row-state';
import { replicatorRules } from './rules';

const rules = replicatorRules(compileSyncRules(syncConfig));
const TABLE = 'public.todos';
const types = new Map([['id', 2950], ['list_id', 2950], ['description', 25], ['notes', 25], ['completed', 16], ['completed_at', 1184], ['created_by', 2950], ['created_at', 1184]]);
const LIST_A = '11111111-1111-4111-8111-111111111111';
const LIST_B = '22222222-2222-4222-8222-222222222222';
const ID = '33333333-3333-4333-8333-333333333333';

const todo = (patch: Record<string, string | null | undefined> = {}) => ({
  id: ID,
  list_id: LIST_A,
  description: 'short',
  notes: null,
  completed: 'f',
  completed_at: null,
  created_by: null,
  created_at: '2026-11-22 02:56:17.123456+00',
  ...patch,
});
const update = (row: Record<string, string | null | undefined>): SourceChange => ({ kind: 'update', table: TABLE, old: null, row, types });
const buckets = (list: string) => rules.evaluateRow(TABLE, todo({ list_id: list })).map(encodePlacement);

/** A planner over storage holding one row as given. */
function planner(stored: CurrentRow | undefined, hashRows: boolean): ChangePlanner {
  return new ChangePlanner(rules, async (_table, ids) => new Map(stored && ids.includes(ID) ? [[ID, stored]] : []), async () => [], undefined, hashRows);
}

describe('ChangePlanner and what current rows keep', () => {
  it('after the first checkpoint, rewrites a row only when its buckets or kept values change', async () => {
    const stored: CurrentRow = { buckets: buckets(LIST_A), values: {}, valuesHash: '' };
    const same = planner(stored, false);
    await same.add([update(todo({ completed: 't' }))]);
    expect(same.ops.map((o) => o.op)).toEqual(['PUT']);
    expect(same.storageUpdates().currentRows).toEqual({ upsert: [], insert: [], delete: [] });

    const moved = planner(stored, false);
    await moved.add([update(todo({ list_id: LIST_B }))]);
    expect(moved.ops.map((o) => o.op).sort()).toEqual(['PUT', 'REMOVE']);
    expect(moved.storageUpdates().currentRows.upsert).toEqual([{ table: TABLE, rowId: ID, buckets: buckets(LIST_B), values: {}, valuesHash: '' }]);

    const long = 'a description longer than twenty bytes';
    const longer = planner(stored, false);
    await longer.add([update(todo({ description: long }))]);
    expect(longer.storageUpdates().currentRows.upsert).toEqual([{ table: TABLE, rowId: ID, buckets: buckets(LIST_A), values: { description: long }, valuesHash: '' }]);
  });

  it('before the first checkpoint, stores a hash with every row it writes, and recognises a change storage already has', async () => {
    const row = todo({ completed: 't' });
    const first = planner({ buckets: buckets(LIST_A), values: {}, valuesHash: '' }, true);
    await first.add([update(row)]);
    expect(first.ops).toHaveLength(1); // no hash stored: a change is always a change
    expect(first.storageUpdates().currentRows.upsert).toEqual([{ table: TABLE, rowId: ID, buckets: buckets(LIST_A), values: {}, valuesHash: rowHash(row) }]);

    const replayed = planner({ buckets: buckets(LIST_A), values: {}, valuesHash: rowHash(row) }, true);
    await replayed.add([update(row)]);
    expect(replayed.ops).toEqual([]);
    expect(replayed.storageUpdates().currentRows).toEqual({ upsert: [], insert: [], delete: [] });

    const legacy = planner({ buckets: buckets(LIST_A), values: row }, false); // written before 0003: all values, no hash
    await legacy.add([update(row)]);
    expect(legacy.ops).toEqual([]);
    await legacy.add([update(todo())]);
    expect(legacy.ops).toHaveLength(1);
    expect(legacy.storageUpdates().currentRows.upsert).toEqual([{ table: TABLE, rowId: ID, buckets: buckets(LIST_A), values: {}, valuesHash: '' }]);
  });

  it('fills unchanged TOAST values from the kept values, inserts rows storage lacks, and deletes only rows it has', async () => {
    const notes = 'n'.repeat(5000);
    const stored: CurrentRow = { buckets: buckets(LIST_A), values: { notes }, valuesHash: '' };
    const p = planner(stored, false);
    await p.add([update(todo({ notes: undefined, list_id: LIST_B }))]);
    expect(JSON.parse(p.ops.find((o) => o.op === 'PUT')!.data!)).toMatchObject({ notes });

    const other = '44444444-4444-4444-8444-444444444444';
    const added = planner(undefined, false);
    await added.add([{ kind: 'insert', table: TABLE, row: todo({ id: other }), types }]);
    expect(added.storageUpdates().currentRows).toEqual({ upsert: [], insert: [{ table: TABLE, rowId: other, buckets: buckets(LIST_A), values: {}, valuesHash: '' }], delete: [] });

    const fresh = planner(undefined, false);
    await fresh.add([{ kind: 'insert', table: TABLE, row: todo({ id: other }), types }, { kind: 'delete', table: TABLE, old: { id: other } }]);
    expect(fresh.ops.map((o) => o.op)).toEqual(['PUT', 'REMOVE']);
    expect(fresh.storageUpdates().currentRows).toEqual({ upsert: [], insert: [], delete: [] });
  });

  it('after the first checkpoint, a large batch looks up the rows of updates and deletes but not of inserts, unless it truncates', async () => {
    const asked: string[][] = [];
    const other = '44444444-4444-4444-8444-444444444444';
    const stored: CurrentRow = { buckets: buckets(LIST_A), values: {}, valuesHash: '' };
    const load = async (_table: string, ids: string[]) => {
      asked.push(ids);
      return new Map(ids.includes(ID) ? [[ID, stored]] : []);
    };
    const insert = (id: string): SourceChange => ({ kind: 'insert', table: TABLE, row: todo({ id }), types });
    const freshIds = Array.from({ length: SKIP_INSERT_LOOKUPS_FROM }, (_, i) => `55555555-5555-4555-8555-${String(i).padStart(12, '0')}`);
    const fresh = freshIds.map(insert);
    const p = new ChangePlanner(rules, load, async () => [], undefined, false, true);
    await p.add([insert(other), update(todo({ completed: 't' })), { kind: 'delete', table: TABLE, old: { id: other } }, insert(other), ...fresh]);
    expect(asked).toEqual([[ID]]);
    expect(p.newRowsAssumed).toBe(true); // so the batch commits with COPY, which never overwrites a row
    expect(p.ops.slice(0, 4).map((o) => o.op)).toEqual(['PUT', 'PUT', 'REMOVE', 'PUT']);
    expect(p.storageUpdates().currentRows.insert.map((r) => r.rowId)).toEqual([other, ...freshIds]);

    // A small batch (committed in one round trip, as an upsert) looks its inserts up; so does any
    // batch before the first checkpoint, when an insert may be a replay.
    for (const [hashRows, changes] of [[false, [insert(other)]], [true, [insert(other), ...fresh]]] as const) {
      asked.length = 0;
      const q = new ChangePlanner(rules, load, async () => [], undefined, hashRows, true);
      await q.add(changes);
      expect(asked[0]).toContain(other);
      expect(q.newRowsAssumed).toBe(false);
    }

    // TRUNCATE then INSERT of a row storage holds: the row is looked up, so it is not inserted twice
    // (here it comes back as it was: nothing to write).
    asked.length = 0;
    const truncated = new ChangePlanner(rules, load, async () => [{ rowId: ID, ...stored }], undefined, false, true);
    await truncated.add([{ kind: 'truncate', table: TABLE }, insert(ID), ...fresh]);
    expect(asked[0]).toContain(ID);
    expect(truncated.ops.slice(0, 2).map((o) => o.op)).toEqual(['REMOVE', 'PUT']);
    expect(truncated.storageUpdates().currentRows.insert.map((r) => r.rowId)).not.toContain(ID);
  });

  it('plans against the rows of the batch before it, as that batch leaves them in storage', async () => {
    const first = planner({ buckets: buckets(LIST_A), values: {}, valuesHash: '' }, false);
    await first.add([update(todo({ list_id: LIST_B }))]);
    const overlay = first.overlay();
    const second = new ChangePlanner(rules, async () => { throw new Error('the overlay has the row'); }, async () => [], overlay, false);
    await second.add([update(todo({ list_id: LIST_B, completed: 't' }))]);
    expect(second.ops.map((o) => o.op)).toEqual(['PUT']);
    expect(second.storageUpdates().currentRows).toEqual({ upsert: [], insert: [], delete: [] });
    const third = new ChangePlanner(rules, async () => new Map(), async () => [], second.overlay(), false);
    await third.add([update(todo({ list_id: LIST_B, completed: 't' }))]); // the same values again: known in full
    expect(third.ops).toEqual([]);
  });

  it('reads through the overlays of several batches still committing, the latest winning, and truncates their rows too', async () => {
    const noLoad = async () => {
      throw new Error('the overlays have the row');
    };
    const one = planner({ buckets: buckets(LIST_A), values: {}, valuesHash: '' }, false);
    await one.add([update(todo({ list_id: LIST_B }))]);
    const two = new ChangePlanner(rules, noLoad, async () => [], one.overlay(), false);
    await two.add([update(todo({ list_id: LIST_A }))]);
    const overlays = [one.overlay(), two.overlay()];
    const three = new ChangePlanner(rules, noLoad, async () => [], overlays, false);
    await three.add([update(todo({ list_id: LIST_A }))]); // as the second batch left it
    expect(three.ops).toEqual([]);
    const truncated = new ChangePlanner(rules, noLoad, async () => [], overlays, false);
    await truncated.add([{ kind: 'truncate', table: TABLE }]);
    expect(truncated.ops).toEqual([{ bucket: rules.evaluateRow(TABLE, todo())[0]!.bucket, op: 'REMOVE', table: 'todos', rowId: ID, data: null }]);
    expect(truncated.storageUpdates().currentRows.delete).toEqual([{ table: TABLE, rowId: ID }]);
  });

  it('places each row where its own values say when consecutive rows alternate between buckets (placements reused from the row before)', async () => {
    const ids = ['44444444-4444-4444-8444-444444444441', '44444444-4444-4444-8444-444444444442', '44444444-4444-4444-8444-444444444443'];
    const lists = [LIST_A, LIST_B, LIST_A];
    const stored: CurrentRow = { buckets: buckets(LIST_B), values: {}, valuesHash: '' };
    const plan = new ChangePlanner(rules, async (_table, asked) => new Map(asked.filter((id) => id === ids[0]).map((id) => [id, stored])), async () => [], undefined, false);
    await plan.add(ids.map((id, i) => update(todo({ id, list_id: lists[i] }))));
    const bucketOf = (list: string) => rules.evaluateRow(TABLE, todo({ list_id: list }))[0]!.bucket;
    // The first row moves from B to A: a PUT into A and a REMOVE from B; the others are new.
    expect(plan.ops.map((o) => [o.op, o.rowId, o.bucket])).toEqual([
      ['PUT', ids[0], bucketOf(LIST_A)],
      ['REMOVE', ids[0], bucketOf(LIST_B)],
      ['PUT', ids[1], bucketOf(LIST_B)],
      ['PUT', ids[2], bucketOf(LIST_A)],
    ]);
    const { upsert, insert } = plan.storageUpdates().currentRows;
    expect([...upsert, ...insert].map((r) => [r.rowId, r.buckets])).toEqual([
      [ids[0], buckets(LIST_A)],
      [ids[1], buckets(LIST_B)],
      [ids[2], buckets(LIST_A)],
    ]);
  });
});
