import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addChecksums, opChecksum } from '@/lib/sync/protocol/checksum';
import { isLockstepError } from '@/lib/sync/errors';
import { prepareCommit, startPrepared, type BatchCommit } from '../commit-batch';
import { StorageErrorCode } from '../errors';
import { listenCheckpoints, type CheckpointNotice } from '../listen';
import { createStorageDatabase, newRulesVersion, put, readAllOps, remove } from './helpers';

let t: Awaited<ReturnType<typeof createStorageDatabase>>;
beforeAll(async () => {
  t = await createStorageDatabase();
});
afterAll(async () => {
  await t?.drop();
});

describe('commitBatch', () => {
  it('numbers ops consecutively in array order and checksums each with opChecksum', async () => {
    const rulesId = await newRulesVersion(t.storage);
    const first = await t.storage.commitBatch(rulesId, { ops: [put('a', '1', '{"v":1}'), put('b', '2', '{"v":2}'), remove('a', '3')], checkpoint: true, lsn: '0/100' });
    expect(first).toEqual({ firstOpId: 1, lastOpId: 3, checkpoint: { opId: 3, lsn: '0/100' } });
    const second = await t.storage.commitBatch(rulesId, { ops: [put('a', '1', '{"v":9}')], checkpoint: false });
    expect(second).toEqual({ firstOpId: 4, lastOpId: 4 });

    const opsA = await readAllOps(t.storage, rulesId, 'a', 0, 100);
    expect(opsA.map((o) => [o.opId, o.op, o.rowId, o.data])).toEqual([
      [1, 'PUT', '1', '{"v":1}'],
      [3, 'REMOVE', '3', null],
      [4, 'PUT', '1', '{"v":9}'],
    ]);
    expect(opsA[0]!.checksum).toBe(opChecksum('PUT', 'todos', '1', '{"v":1}'));
    expect(opsA[1]!.checksum).toBe(opChecksum('REMOVE', 'todos', '3', null));

    const states = await t.storage.bucketStates(rulesId, ['a', 'b', 'none']);
    expect(states.get('a')).toMatchObject({ checksum: opsA.map((o) => o.checksum).reduce(addChecksums, 0), count: 3, lastOpId: 4 });
    expect(states.get('b')).toMatchObject({ count: 1, lastOpId: 2 });
    expect(states.get('none')).toEqual({ checksum: 0, count: 0, lastOpId: 0, compactedOpId: 0 });
  });

  it('records a checkpoint without ops at the current op id, so an LSN-only advance is still announced', async () => {
    const rulesId = await newRulesVersion(t.storage);
    await t.storage.commitBatch(rulesId, { ops: [put('a', '1', '{}')], checkpoint: true, lsn: '0/10' });
    const empty = await t.storage.commitBatch(rulesId, { ops: [], checkpoint: true, lsn: '0/20' });
    expect(empty).toEqual({ firstOpId: null, lastOpId: 1, checkpoint: { opId: 1, lsn: '0/20' } });
    expect(await t.storage.latestCheckpoint(rulesId)).toEqual({ opId: 1, lsn: '0/20' });
    expect(await t.storage.getLastLsn(rulesId)).toBe('0/20');
  });

  it('hands out strictly increasing op ids in commit order to concurrent committers', async () => {
    const rulesId = await newRulesVersion(t.storage);
    const notices: CheckpointNotice[] = [];
    const listener = listenCheckpoints(t.url, (n) => notices.push(n));
    await listener.ready;
    try {
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => t.storage.commitBatch(rulesId, { ops: Array.from({ length: 1 + (i % 5) }, (_, k) => put(`b${k % 3}`, `${i}-${k}`, `{"i":${i}}`)), checkpoint: true })),
      );
      const ranges = results.map((r) => [r.firstOpId!, r.lastOpId] as const).sort((x, y) => x[0] - y[0]);
      let expected = 1;
      for (const [from, to] of ranges) {
        expect(from).toBe(expected); // no gaps, no overlaps, each batch contiguous
        expected = to + 1;
      }
      expect(expected - 1).toBe(results.reduce((n, r) => n + (r.lastOpId - r.firstOpId! + 1), 0));
      await expect.poll(() => notices.filter((n) => n.rulesId === rulesId).length).toBe(20);
      // NOTIFY is delivered in commit order, so op ids in delivery order prove commit order.
      const delivered = notices.filter((n) => n.rulesId === rulesId).map((n) => n.opId);
      expect(delivered).toEqual([...delivered].sort((a, b) => a - b));
      expect(new Set(delivered).size).toBe(20);
    } finally {
      await listener.close();
    }
  });

  it('is all or nothing: a batch failing in its last part leaves no op, no bucket change and no gap', async () => {
    const rulesId = await newRulesVersion(t.storage);
    await t.storage.commitBatch(rulesId, { ops: [put('a', '1', '{}')], checkpoint: true, lsn: '0/1' });
    const before = await t.storage.bucketStates(rulesId, ['a']);
    // jsonb refuses \u0000, so the parameter part fails after ops, bucket totals and current rows were written.
    const failing = t.storage.commitBatch(rulesId, {
      ops: [put('a', '2', '{}'), put('a', '3', '{}')],
      currentRows: { upsert: [{ table: 'todos', rowId: '2', buckets: ['a'], values: { v: '1' } }] },
      parameters: { upsert: [{ lookup: 'l', sourceTable: 'todos', sourceRowId: '2', values: [['nul\u0000']] }] },
      lsn: '0/2',
      checkpoint: true,
    });
    await expect(failing).rejects.toThrow();
    expect(await t.storage.bucketStates(rulesId, ['a'])).toEqual(before);
    expect(await readAllOps(t.storage, rulesId, 'a', 0, 100)).toHaveLength(1);
    expect(await t.storage.getLastLsn(rulesId)).toBe('0/1');
    expect(await t.storage.latestCheckpoint(rulesId)).toEqual({ opId: 1, lsn: '0/1' });
    expect((await t.storage.getCurrentRows(rulesId, 'todos', ['2'])).size).toBe(0);
    const next = await t.storage.commitBatch(rulesId, { ops: [put('a', '2', '{}')], checkpoint: true });
    expect(next.firstOpId).toBe(2);
  });

  it('refuses an LSN going backwards, a retired version and an unknown one, with stable codes', async () => {
    const rulesId = await newRulesVersion(t.storage);
    await t.storage.commitBatch(rulesId, { ops: [], checkpoint: true, lsn: '1/0' });
    const regression = await t.storage.commitBatch(rulesId, { ops: [put('a', '1', '{}')], checkpoint: true, lsn: '0/FFFFFFFF' }).catch((e: unknown) => e);
    expect(isLockstepError(regression, StorageErrorCode.lsnRegression)).toBe(true);
    await t.storage.commitBatch(rulesId, { ops: [], checkpoint: true, lsn: '1/0' }); // the same LSN again is fine
    await t.storage.retireRulesVersion(rulesId);
    const retired = await t.storage.commitBatch(rulesId, { ops: [], checkpoint: true }).catch((e: unknown) => e);
    expect(isLockstepError(retired, StorageErrorCode.rulesVersionState)).toBe(true);
    const unknown = await t.storage.commitBatch(999_999, { ops: [], checkpoint: true }).catch((e: unknown) => e);
    expect(isLockstepError(unknown, StorageErrorCode.rulesVersionNotFound)).toBe(true);
  });

  it('stores current rows, applying deletes before upserts, and pages through a table', async () => {
    const rulesId = await newRulesVersion(t.storage);
    const values = (v: string) => ({ id: v, description: `todo ${v} "quoted" \\ ü ✓ \u0000`, notes: null });
    await t.storage.commitBatch(rulesId, {
      ops: [],
      currentRows: { upsert: ['a', 'b', 'c', 'd'].map((id) => ({ table: 'todos', rowId: id, buckets: ['x', 'y"z'], values: values(id) })) },
      checkpoint: true,
    });
    await t.storage.commitBatch(rulesId, {
      ops: [],
      currentRows: {
        delete: [{ table: 'todos', rowId: 'a' }, { table: 'todos', rowId: 'b' }],
        upsert: [
          { table: 'todos', rowId: 'b', buckets: [], values: values('b2') },
          { table: 'todos', rowId: 'c', buckets: ['q'], values: values('c1') },
          { table: 'todos', rowId: 'c', buckets: ['x'], values: values('c2') }, // the last upsert of a key wins
        ],
      },
      checkpoint: true,
    });
    const rows = await t.storage.getCurrentRows(rulesId, 'todos', ['a', 'b', 'c', 'd', 'zz']);
    expect([...rows.keys()].sort()).toEqual(['b', 'c', 'd']);
    expect(rows.get('b')).toEqual({ buckets: [], values: values('b2') });
    expect(rows.get('c')).toEqual({ buckets: ['x'], values: values('c2') });
    expect(rows.get('d')).toEqual({ buckets: ['x', 'y"z'], values: values('d') });

    const page1 = await t.storage.listCurrentRows(rulesId, 'todos', null, 2);
    const page2 = await t.storage.listCurrentRows(rulesId, 'todos', page1.at(-1)!.rowId, 2);
    expect([...page1, ...page2].map((r) => r.rowId)).toEqual(['b', 'c', 'd']);
  });

  it('saves snapshot progress atomically with the batch', async () => {
    const rulesId = await newRulesVersion(t.storage);
    const progress = { complete: false, tables: { 'public.todos': { done: false, lastKey: ['42'], rows: 1000 } } };
    await t.storage.commitBatch(rulesId, { ops: [put('a', '1', '{}')], checkpoint: false, snapshotProgress: progress });
    expect((await t.storage.getRulesVersion(rulesId))?.snapshotProgress).toEqual(progress);
  });

  it('overlaps a batch with the one before (startPrepared): op ids in order, current rows the previous one deletes inserted again, a failure rolls back what follows', async () => {
    const rulesId = await newRulesVersion(t.storage);
    const row = (rowId: string) => ({ table: 'public.todos', rowId, buckets: ['todos\u001fa'], values: {} });
    const ops = (from: number, count: number) => Array.from({ length: count }, (_, i) => put(`b${i % 3}`, String(from + i), '{}'));
    // Batch 2 deletes row "x" that batch 1 inserted; batch 3 inserts it again, all overlapping.
    const batches = [
      prepareCommit(rulesId, { ops: ops(0, 300), currentRows: { insert: [row('x')] }, checkpoint: true, lsn: '0/10' }),
      prepareCommit(rulesId, { ops: ops(300, 5), currentRows: { delete: [{ table: 'public.todos', rowId: 'x' }] }, checkpoint: true, lsn: '0/20' }),
      prepareCommit(rulesId, { ops: ops(305, 400), currentRows: { insert: [row('x')] }, checkpoint: true, lsn: '0/30' }),
      prepareCommit(rulesId, { ops: ops(705, 250), checkpoint: true, lsn: '0/40' }),
    ];
    let previous: BatchCommit | undefined;
    const results = await Promise.all(
      batches.map((batch) => {
        previous = startPrepared(t.pool, batch, previous);
        return previous.done;
      }),
    );
    expect(results.map((r) => [r.firstOpId, r.lastOpId, r.checkpoint?.lsn])).toEqual([[1, 300, '0/10'], [301, 305, '0/20'], [306, 705, '0/30'], [706, 955, '0/40']]);
    const all = (await Promise.all(['b0', 'b1', 'b2'].map((b) => readAllOps(t.storage, rulesId, b, 0, 10_000, 5000)))).flat();
    expect(all.map((o) => [o.opId, o.rowId]).sort((a, b) => (a[0] as number) - (b[0] as number))).toEqual(Array.from({ length: 955 }, (_, i) => [i + 1, String(i)]));
    expect((await t.storage.getCurrentRows(rulesId, 'public.todos', ['x'])).has('x')).toBe(true);

    // A batch that fails takes the one numbered after it down with it; the counter stays.
    const failing = prepareCommit(rulesId, { ops: ops(955, 250), currentRows: { insert: [row('x')] }, checkpoint: true, lsn: '0/50' });
    const after = prepareCommit(rulesId, { ops: ops(1205, 250), checkpoint: true, lsn: '0/60' });
    const a = startPrepared(t.pool, failing);
    const b = startPrepared(t.pool, after, a);
    await expect(a.done).rejects.toThrow(/duplicate key/);
    const error = await b.done.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(await t.storage.getRulesVersion(rulesId)).toMatchObject({ lastOpId: 955, lastLsn: '0/40' });
    expect(await readAllOps(t.storage, rulesId, 'b0', 955, 10_000)).toEqual([]);

    // So does it a batch of one statement, and one without ops, each queued behind a batch that
    // fails after it took the counter (its inserted rows go last): neither may commit in its place.
    for (const next of [{ ops: ops(1205, 5) }, { ops: [] }]) {
      const failingAgain = startPrepared(t.pool, prepareCommit(rulesId, { ops: ops(955, 250), currentRows: { insert: [row('x')] }, checkpoint: true, lsn: '0/50' }));
      const queued = startPrepared(t.pool, prepareCommit(rulesId, { ...next, checkpoint: true, lsn: '0/60' }), failingAgain);
      await expect(failingAgain.done).rejects.toThrow(/duplicate key/);
      await expect(queued.done).rejects.toThrow();
      expect(await t.storage.getRulesVersion(rulesId)).toMatchObject({ lastOpId: 955, lastLsn: '0/40' });
      expect(await readAllOps(t.storage, rulesId, 'b0', 955, 10_000)).toEqual([]);
    }
  });
});
