import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStorageDatabase, newRulesVersion, put, readAllOps } from './helpers';

let t: Awaited<ReturnType<typeof createStorageDatabase>>;
beforeAll(async () => {
  t = await createStorageDatabase();
});
afterAll(async () => {
  await t?.drop();
});

const odd = 'tab\there\nnew line \\ "quoted" ü ✓ 😀 \\N';

describe('current rows with a values hash', () => {
  it('commitBatch stores, replaces and drops a row hash like the rest of the row', async () => {
    const rulesId = await newRulesVersion(t.storage);
    const row = (valuesHash?: string) => ({ table: 'public.todos', rowId: 'h', buckets: ['b'], values: { long: odd }, ...(valuesHash ? { valuesHash } : {}) });
    const stored = async () => (await t.storage.getCurrentRows(rulesId, 'public.todos', ['h'])).get('h');
    await t.storage.commitBatch(rulesId, { ops: [], currentRows: { upsert: [row('one')] }, checkpoint: false });
    expect(await stored()).toEqual({ buckets: ['b'], values: { long: odd }, valuesHash: 'one' });
    await t.storage.commitBatch(rulesId, { ops: [], currentRows: { upsert: [row('two')] }, checkpoint: false });
    expect(await stored()).toEqual({ buckets: ['b'], values: { long: odd }, valuesHash: 'two' });
    await t.storage.commitBatch(rulesId, { ops: [], currentRows: { upsert: [row()] }, checkpoint: false });
    expect(await stored()).toStrictEqual({ buckets: ['b'], values: { long: odd } });
    expect((await t.storage.listCurrentRows(rulesId, 'public.todos', null, 10))[0]).toStrictEqual({ rowId: 'h', buckets: ['b'], values: { long: odd } });
  });

  it("keeps 0002's commit_batch for replicators of the previous release, whose rows get no hash", async () => {
    const rulesId = await newRulesVersion(t.storage);
    await t.storage.commitBatch(rulesId, { ops: [put('a', '1', '{}')], currentRows: { upsert: [{ table: 'todos', rowId: 'r', buckets: ['a'], values: {}, valuesHash: 'h' }] }, checkpoint: true, lsn: '0/10' });
    const { rows } = await t.pool.query(
      `SELECT refused, base_op_id, last_op_id, last_lsn FROM lockstep.commit_batch($1, 1, '0/20', NULL, true,
         '["a"]', '["PUT"]', '["todos"]', '["2"]', '["{}"]', '[7]', '["a"]', '[1]', '[7]', '[1]', NULL, NULL, NULL,
         '["todos", "todos"]', '["r", "s"]', '[["a"], []]', '[{"v": "full"}, {}]', NULL, NULL, NULL, NULL, NULL, NULL, NULL)`,
      [rulesId],
    );
    expect(rows).toEqual([{ refused: null, base_op_id: '1', last_op_id: '2', last_lsn: '0/20' }]);
    expect((await readAllOps(t.storage, rulesId, 'a', 0, 10)).map((o) => [o.opId, o.rowId, o.checksum])).toEqual([[1, '1', expect.any(Number)], [2, '2', 7]]);
    const stored = await t.storage.getCurrentRows(rulesId, 'todos', ['r', 's']);
    expect(stored.get('r')).toStrictEqual({ buckets: ['a'], values: { v: 'full' } });
    expect(stored.get('s')).toStrictEqual({ buckets: [], values: {} });
    expect(await t.storage.latestCheckpoint(rulesId)).toEqual({ opId: 2, lsn: '0/20' });
  });
});
