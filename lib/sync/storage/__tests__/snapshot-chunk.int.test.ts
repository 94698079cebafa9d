import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLockstepError } from '@/lib/sync/errors';
import { addChecksums, opChecksum } from '@/lib/sync/protocol/checksum';
import { StorageErrorCode } from '../errors';
import { commitSnapshotChunk, SnapshotChunk, startSnapshotChunk } from '../snapshot-chunk';
import type { SnapshotProgress } from '../types';
import { createStorageDatabase, newRulesVersion, put, readAllOps } from './helpers';

let t: Awaited<ReturnType<typeof createStorageDatabase>>;
beforeAll(async () => {
  t = await createStorageDatabase();
});
afterAll(async () => {
  await t?.drop();
});

const progress = (rows: number, lastKey: string): SnapshotProgress => ({ complete: false, tables: { 'public.todos': { done: false, lastKey: [lastKey], rows } } });
const odd = 'tab\there\nnew line \\ "quoted" ü ✓ 😀 \\N';

describe('commitSnapshotChunk', () => {
  it('writes ops, bucket totals, current rows and parameters as commitBatch would, and the progress with them', async () => {
    const rulesId = await newRulesVersion(t.storage);
    await t.storage.commitBatch(rulesId, { ops: [put('a', 'before', '{}')], checkpoint: true });

    const chunk = new SnapshotChunk(rulesId);
    chunk.put('a', 'todos', '1', '{"v":1}');
    chunk.put('b', 'todos', '2', JSON.stringify({ v: odd }));
    chunk.put('a', 'todos', '3', '{"v":3}');
    chunk.currentRow({ table: 'public.todos', rowId: '1', buckets: ['todos\u001fa'], values: {}, valuesHash: 'h1' });
    chunk.currentRow({ table: 'public.todos', rowId: '2', buckets: ['todos\u001fb', 'x"y'], values: { notes: odd, empty: '', none: null }, valuesHash: 'h2' });
    chunk.currentRow({ table: 'public.todos', rowId: '3', buckets: [], values: { id: '3' } });
    chunk.parameter({ lookup: 'l["u"]', sourceTable: 'public.todos', sourceRowId: '1', values: [['list-1'], [odd]] });
    const result = await commitSnapshotChunk(t.pool, chunk, progress(3, '3'));
    expect(result).toEqual({ firstOpId: 2, lastOpId: 4 });

    // Numbered bucket by bucket (a's, then b's: the order they first appear), each bucket's in
    // the order put, so that each bucket's ops lie together in the heap.
    const opsA = await readAllOps(t.storage, rulesId, 'a', 0, 100);
    expect(opsA.map((o) => [o.opId, o.op, o.table, o.rowId, o.data])).toEqual([
      [1, 'PUT', 'todos', 'before', '{}'],
      [2, 'PUT', 'todos', '1', '{"v":1}'],
      [3, 'PUT', 'todos', '3', '{"v":3}'],
    ]);
    const [opB] = await readAllOps(t.storage, rulesId, 'b', 0, 100);
    expect(opB).toEqual({ opId: 4, op: 'PUT', table: 'todos', rowId: '2', data: JSON.stringify({ v: odd }), checksum: opChecksum('PUT', 'todos', '2', JSON.stringify({ v: odd })) });

    const states = await t.storage.bucketStates(rulesId, ['a', 'b']);
    expect(states.get('a')).toMatchObject({ checksum: opsA.map((o) => o.checksum).reduce(addChecksums, 0), count: 3, lastOpId: 3 });
    expect(states.get('b')).toMatchObject({ checksum: opB!.checksum, count: 1, lastOpId: 4 });
    const heap = await t.pool.query<{ bucket: string; op_id: string }>('SELECT bucket, op_id::text FROM lockstep.ops WHERE rules_id = $1 AND op_id > 1 ORDER BY ctid', [rulesId]);
    expect(heap.rows.map((r) => `${r.bucket}${r.op_id}`)).toEqual(['a2', 'a3', 'b4']);

    const rows = await t.storage.getCurrentRows(rulesId, 'public.todos', ['1', '2', '3']);
    expect(rows.get('1')).toEqual({ buckets: ['todos\u001fa'], values: {}, valuesHash: 'h1' });
    expect(rows.get('2')).toEqual({ buckets: ['todos\u001fb', 'x"y'], values: { notes: odd, empty: '', none: null }, valuesHash: 'h2' });
    expect(rows.get('3')).toStrictEqual({ buckets: [], values: { id: '3' } });
    expect(await t.storage.lookupParameters(rulesId, ['l["u"]'])).toEqual(new Map([['l["u"]', [['list-1'], [odd]]]]));
    expect((await t.storage.getRulesVersion(rulesId))?.snapshotProgress).toEqual(progress(3, '3'));

    // The counter moved on: the next batch follows.
    expect(await t.storage.commitBatch(rulesId, { ops: [put('a', '9', '{}')], checkpoint: true })).toMatchObject({ firstOpId: 5 });
  });

  it('commits a chunk without ops (rows in no bucket) and an empty one', async () => {
    const rulesId = await newRulesVersion(t.storage);
    const rowsOnly = new SnapshotChunk(rulesId);
    rowsOnly.currentRow({ table: 'public.todos', rowId: 'r', buckets: [], values: {}, valuesHash: 'h' });
    expect(await commitSnapshotChunk(t.pool, rowsOnly, progress(1, 'r'))).toEqual({ firstOpId: null, lastOpId: 0 });
    expect(await commitSnapshotChunk(t.pool, new SnapshotChunk(rulesId), progress(1, 'r'))).toEqual({ firstOpId: null, lastOpId: 0 });
    expect((await t.storage.getCurrentRows(rulesId, 'public.todos', ['r'])).get('r')).toEqual({ buckets: [], values: {}, valuesHash: 'h' });
  });

  it('is all or nothing: a row storage already has fails the chunk, and nothing of it stays', async () => {
    const rulesId = await newRulesVersion(t.storage);
    const first = new SnapshotChunk(rulesId);
    first.put('a', 'todos', '1', '{}');
    first.currentRow({ table: 'public.todos', rowId: '1', buckets: ['todos\u001fa'], values: {}, valuesHash: 'h' });
    await commitSnapshotChunk(t.pool, first, progress(1, '1'));

    const again = new SnapshotChunk(rulesId);
    again.put('a', 'todos', '2', '{}');
    again.currentRow({ table: 'public.todos', rowId: '2', buckets: ['todos\u001fa'], values: {}, valuesHash: 'h' });
    again.currentRow({ table: 'public.todos', rowId: '1', buckets: [], values: {}, valuesHash: 'changed' });
    await expect(commitSnapshotChunk(t.pool, again, progress(3, '2'))).rejects.toThrow(/duplicate key/);

    expect((await readAllOps(t.storage, rulesId, 'a', 0, 100)).map((o) => o.rowId)).toEqual(['1']);
    expect((await t.storage.bucketStates(rulesId, ['a'])).get('a')).toMatchObject({ count: 1, lastOpId: 1 });
    expect((await t.storage.getCurrentRows(rulesId, 'public.todos', ['1', '2'])).get('1')).toEqual({ buckets: ['todos\u001fa'], values: {}, valuesHash: 'h' });
    expect((await t.storage.getRulesVersion(rulesId))?.snapshotProgress).toEqual(progress(1, '1'));
    expect((await t.storage.getRulesVersion(rulesId))?.lastOpId).toBe(1);
    expect(() => again.put('a', 'todos', '3', '{}')).toThrow(/already committed/);
  });

  it('refuses a retired version and an unknown one, with stable codes', async () => {
    const rulesId = await newRulesVersion(t.storage);
    await t.storage.retireRulesVersion(rulesId);
    const retired = await commitSnapshotChunk(t.pool, new SnapshotChunk(rulesId), progress(0, '0')).catch((e: unknown) => e);
    expect(isLockstepError(retired, StorageErrorCode.rulesVersionState)).toBe(true);
    const unknown = await commitSnapshotChunk(t.pool, new SnapshotChunk(999_999), progress(0, '0')).catch((e: unknown) => e);
    expect(isLockstepError(unknown, StorageErrorCode.rulesVersionNotFound)).toBe(true);
  });

  it('numbers ops in commit order with concurrent batches, and spans several buffer pages', async () => {
    const rulesId = await newRulesVersion(t.storage);
    const big = 'x'.repeat(3000);
    const chunk = new SnapshotChunk(rulesId);
    for (let i = 0; i < 1000; i++) chunk.put(`b${i % 3}`, 'todos', String(i), JSON.stringify({ i, big }));
    const [snapshot, batch] = await Promise.all([commitSnapshotChunk(t.pool, chunk, progress(1000, '999')), t.storage.commitBatch(rulesId, { ops: [put('b0', 'x', '{}')], checkpoint: true })]);
    expect(snapshot.lastOpId - snapshot.firstOpId!).toBe(999);
    // Whichever took the counter first committed first and has the lower ids: no overlap, no gap.
    expect(batch.firstOpId === snapshot.firstOpId! - 1 || batch.firstOpId === snapshot.lastOpId + 1).toBe(true);
    const ops = (await Promise.all(['b0', 'b1', 'b2'].map((b) => readAllOps(t.storage, rulesId, b, 0, 10_000, 5000)))).flat();
    expect(ops).toHaveLength(1001);
    expect(new Set(ops.map((o) => o.opId))).toEqual(new Set(Array.from({ length: 1001 }, (_, i) => i + 1)));
    for (const op of ops) if (op.rowId !== 'x') expect(JSON.parse(op.data!)).toEqual({ i: Number(op.rowId), big });
    // Bucket by bucket across the pages: each bucket's snapshot ops have consecutive ids, in the
    // order put, and its totals name its last one.
    const states = await t.storage.bucketStates(rulesId, ['b0', 'b1', 'b2']);
    for (const [k, bucket] of ['b0', 'b1', 'b2'].entries()) {
      const mine = ops.filter((o) => o.rowId !== 'x' && Number(o.rowId) % 3 === k);
      expect(mine.map((o) => o.opId)).toEqual(mine.map((_, j) => mine[0]!.opId + j));
      expect(mine.map((o) => Number(o.rowId))).toEqual(mine.map((_, j) => k + 3 * j));
      const all = ops.filter((o) => Number(o.rowId) % 3 === k || (bucket === 'b0' && o.rowId === 'x'));
      expect(states.get(bucket)).toMatchObject({ lastOpId: Math.max(...all.map((o) => o.opId)), count: all.length, checksum: all.map((o) => o.checksum).reduce(addChecksums, 0) });
    }
  });

  it('overlaps a chunk with the one before: consecutive op ids, commits in order, each with its progress', async () => {
    const rulesId = await newRulesVersion(t.storage);
    const chunks = [0, 1, 2, 3].map((c) => {
      const chunk = new SnapshotChunk(rulesId);
      for (let i = 0; i < 300; i++) {
        const id = String(c * 300 + i).padStart(5, '0');
        chunk.put(`b${i % 2}`, 'todos', id, JSON.stringify({ id }));
        chunk.currentRow({ table: 'public.todos', rowId: id, buckets: [`todos\u001fb${i % 2}`], values: {} });
      }
      return chunk;
    });
    let previous: ReturnType<typeof startSnapshotChunk> | undefined;
    const all = chunks.map((chunk, c) => {
      previous = startSnapshotChunk(t.pool, chunk, progress((c + 1) * 300, String((c + 1) * 300 - 1)), previous);
      return previous.done;
    });
    // Each took the counter after the one before committed (its ids follow), so the last progress stays.
    const results = await Promise.all(all);
    expect(results).toEqual([0, 1, 2, 3].map((c) => ({ firstOpId: c * 300 + 1, lastOpId: (c + 1) * 300 })));
    const ops = (await Promise.all(['b0', 'b1'].map((b) => readAllOps(t.storage, rulesId, b, 0, 10_000, 5000)))).flat();
    // Within each chunk, bucket by bucket: its 150 rows of b0, then its 150 of b1.
    const rowOf = (n: number) => {
      const c = Math.floor(n / 300);
      const rank = n % 300;
      return String(c * 300 + (rank < 150 ? 2 * rank : 2 * (rank - 150) + 1)).padStart(5, '0');
    };
    expect(ops.map((o) => [o.opId, o.rowId]).sort((a, b) => (a[0] as number) - (b[0] as number))).toEqual(Array.from({ length: 1200 }, (_, n) => [n + 1, rowOf(n)]));
    const states = await t.storage.bucketStates(rulesId, ['b0', 'b1']);
    expect(states.get('b0')).toMatchObject({ count: 600, lastOpId: 1050 });
    expect(states.get('b1')).toMatchObject({ count: 600, lastOpId: 1200 });
    expect((await t.storage.getRulesVersion(rulesId))?.snapshotProgress).toEqual(progress(1200, '1199'));
  });

  it('rolls back a chunk numbered after one that failed, or after a counter something else moved', async () => {
    const rulesId = await newRulesVersion(t.storage);
    const first = new SnapshotChunk(rulesId);
    first.put('a', 'todos', '1', '{}');
    first.currentRow({ table: 'public.todos', rowId: '1', buckets: [], values: {} });
    await commitSnapshotChunk(t.pool, first, progress(1, '1'));
    // The next chunk holds a row storage has: it fails, and the chunk after it must not commit.
    const failing = new SnapshotChunk(rulesId);
    failing.put('a', 'todos', '2', '{}');
    failing.currentRow({ table: 'public.todos', rowId: '1', buckets: [], values: {} });
    const after = new SnapshotChunk(rulesId);
    after.put('a', 'todos', '3', '{}');
    const a = startSnapshotChunk(t.pool, failing, progress(2, '2'));
    const b = startSnapshotChunk(t.pool, after, progress(3, '3'), a);
    await expect(a.done).rejects.toThrow(/duplicate key/);
    await expect(b.done).rejects.toThrow();
    expect(await t.storage.getRulesVersion(rulesId)).toMatchObject({ lastOpId: 1, snapshotProgress: progress(1, '1') });
    expect(await readAllOps(t.storage, rulesId, 'a', 0, 100)).toHaveLength(1);

    // Chunks without ops (rows in no bucket) leave the counter where it was, so the op ids cannot
    // tell that the chunk before failed: the chunk after must still not commit in its place.
    const failingRowsOnly = new SnapshotChunk(rulesId);
    failingRowsOnly.currentRow({ table: 'public.todos', rowId: '1', buckets: [], values: {} });
    const afterRowsOnly = new SnapshotChunk(rulesId);
    afterRowsOnly.currentRow({ table: 'public.todos', rowId: '5', buckets: [], values: {} });
    const e = startSnapshotChunk(t.pool, failingRowsOnly, progress(2, '2'));
    const f = startSnapshotChunk(t.pool, afterRowsOnly, progress(3, '3'), e);
    await expect(e.done).rejects.toThrow(/duplicate key/);
    expect(isLockstepError(await f.done.catch((error: unknown) => error), StorageErrorCode.rulesVersionState)).toBe(true);
    expect(await t.storage.getRulesVersion(rulesId)).toMatchObject({ lastOpId: 1, snapshotProgress: progress(1, '1') });
    expect((await t.storage.getCurrentRows(rulesId, 'public.todos', ['5'])).has('5')).toBe(false);

    // A writer the chunk does not know of moved the counter between the two chunks.
    const c = startSnapshotChunk(t.pool, new SnapshotChunk(rulesId), progress(1, '1'));
    await c.done;
    await t.storage.commitBatch(rulesId, { ops: [put('a', 'other', '{}')], checkpoint: false });
    const d = new SnapshotChunk(rulesId);
    d.put('d', 'todos', '4', '{}');
    const moved = await startSnapshotChunk(t.pool, d, progress(4, '4'), c).done.catch((e: unknown) => e);
    expect(isLockstepError(moved, StorageErrorCode.rulesVersionState)).toBe(true);
    expect((await readAllOps(t.storage, rulesId, 'a', 0, 100)).map((o) => o.rowId)).toEqual(['1', 'other']);
    expect(await readAllOps(t.storage, rulesId, 'd', 0, 100)).toEqual([]);
    expect(await t.storage.getRulesVersion(rulesId)).toMatchObject({ lastOpId: 2, snapshotProgress: progress(1, '1') });
  });
});
