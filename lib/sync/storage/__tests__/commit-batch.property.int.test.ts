import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLockstepError } from '@/lib/sync/errors';
import { commitBatch } from '../commit-batch';
import { StorageErrorCode } from '../errors';
import type { CommitBatch, CurrentRowUpsert } from '../types';
import { createStorageDatabase, newRulesVersion } from './helpers';

/**
 * commitBatch has two ways of writing a batch: everything in one lockstep.commit_batch call
 * (small batches), or the ops by COPY between take_op_ids and write_batch (large ones). Random
 * sequences of batches written both ways must leave storage exactly alike.
 */

let t: Awaited<ReturnType<typeof createStorageDatabase>>;
beforeAll(async () => {
  t = await createStorageDatabase();
});
afterAll(async () => {
  await t?.drop();
});

const text = fc.oneof(fc.constantFrom('a', 'b', 'tab\tnl\n\\ "q" ü ✓ 😀', ''), fc.string({ maxLength: 8 }));
const rowId = fc.constantFrom('r0', 'r1', 'r2', 'r"3');
const table = fc.constantFrom('t0', 't1');
const batchArb = fc.record({
  ops: fc.array(fc.record({ bucket: fc.constantFrom('b0', 'b1', 'b"2'), put: fc.boolean(), table, rowId, v: text }), { maxLength: 12 }),
  upserts: fc.array(fc.record({ table, rowId, buckets: fc.array(text, { maxLength: 2 }), v: fc.option(text), hash: fc.option(text) }), { maxLength: 4 }),
  inserts: fc.array(fc.record({ table, buckets: fc.array(text, { maxLength: 2 }), v: fc.option(text), hash: fc.option(text) }), { maxLength: 4 }),
  deletes: fc.array(fc.record({ table, rowId }), { maxLength: 3 }),
  truncate: fc.option(table, { freq: 6 }),
  params: fc.array(fc.record({ lookup: fc.constantFrom('l0', 'l1'), table, rowId, values: fc.array(fc.array(text, { maxLength: 2 }), { maxLength: 2 }) }), { maxLength: 3 }),
  paramDeletes: fc.array(fc.record({ table, rowId }), { maxLength: 2 }),
  paramTruncate: fc.option(table, { freq: 6 }),
  lsnStep: fc.option(fc.nat(3)),
  checkpoint: fc.boolean(),
  progress: fc.option(fc.nat(100), { freq: 4 }),
});

type BatchInput = typeof batchArb extends fc.Arbitrary<infer T> ? T : never;

let fresh = 0;

function toBatch(b: BatchInput, lsn: number): CommitBatch {
  return {
    ops: b.ops.map((o) => ({ bucket: o.bucket, op: o.put ? 'PUT' : 'REMOVE', table: o.table, rowId: o.rowId, data: o.put ? JSON.stringify({ v: o.v }) : null })),
    currentRows: {
      upsert: b.upserts.map((u): CurrentRowUpsert => ({ table: u.table, rowId: u.rowId, buckets: u.buckets, values: u.v === null ? {} : { v: u.v, n: null }, ...(u.hash === null ? {} : { valuesHash: u.hash }) })),
      // Rows storage never held (fresh ids), as the replicator inserts them.
      insert: b.inserts.map((u): CurrentRowUpsert => ({ table: u.table, rowId: `new-${fresh++}`, buckets: u.buckets, values: u.v === null ? {} : { v: u.v }, ...(u.hash === null ? {} : { valuesHash: u.hash }) })),
      delete: b.deletes,
      ...(b.truncate === null ? {} : { deleteTables: [b.truncate] }),
    },
    parameters: {
      upsert: b.params.map((p) => ({ lookup: p.lookup, sourceTable: p.table, sourceRowId: p.rowId, values: p.values })),
      delete: b.paramDeletes.map((p) => ({ sourceTable: p.table, sourceRowId: p.rowId })),
      ...(b.paramTruncate === null ? {} : { deleteTables: [b.paramTruncate] }),
    },
    ...(b.lsnStep === null ? {} : { lsn: `0/${lsn.toString(16).toUpperCase()}` }),
    checkpoint: b.checkpoint,
    ...(b.progress === null ? {} : { snapshotProgress: { complete: false, tables: { 'public.t': { done: false, lastKey: [String(b.progress)], rows: b.progress } } } }),
  };
}

/** Everything storage holds for a version, without the version id. */
async function dump(rulesId: number): Promise<unknown> {
  const q = async (sql: string) => (await t.pool.query(sql, [rulesId])).rows;
  return {
    ops: await q('SELECT bucket, op_id, op, table_name, row_id, data, checksum FROM lockstep.ops WHERE rules_id = $1 ORDER BY bucket, op_id'),
    buckets: await q('SELECT bucket, last_op_id, checksum, op_count FROM lockstep.bucket_state WHERE rules_id = $1 ORDER BY bucket'),
    rows: await q('SELECT table_name, row_id, buckets, source_values::text, values_hash FROM lockstep.current_rows WHERE rules_id = $1 ORDER BY table_name, row_id'),
    params: await q('SELECT lookup, source_table, source_row_id, parameter_values FROM lockstep.parameter_index WHERE rules_id = $1 ORDER BY lookup, source_table, source_row_id'),
    checkpoints: await q('SELECT op_id, lsn::text FROM lockstep.checkpoints WHERE rules_id = $1 ORDER BY op_id'),
    version: await q('SELECT last_op_id, last_lsn::text, snapshot_progress FROM lockstep.rules_versions WHERE id = $1'),
  };
}

describe('commitBatch with ops by COPY', () => {
  it('leaves storage exactly as the one-round-trip function does', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(batchArb, { minLength: 1, maxLength: 6 }), async (batches) => {
        const oneTrip = await newRulesVersion(t.storage);
        await t.storage.activateRulesVersion(oneTrip);
        const copied = await newRulesVersion(t.storage);
        let lsn = 16;
        for (const b of batches) {
          lsn += b.lsnStep ?? 0;
          const batch = toBatch(b, lsn);
          const [x, y] = [await commitBatch(t.pool, oneTrip, batch, { copyOpsFrom: Infinity }), await commitBatch(t.pool, copied, batch, { copyOpsFrom: 0 })];
          expect(y).toEqual(x);
        }
        expect(await dump(copied)).toEqual(await dump(oneTrip));
      }),
      { numRuns: 40 },
    );
  });

  it('fails a large batch that inserts a row storage holds, and leaves nothing behind', async () => {
    const rulesId = await newRulesVersion(t.storage);
    const row = { table: 't', rowId: 'held', buckets: ['b'], values: {}, valuesHash: '' };
    await commitBatch(t.pool, rulesId, { ops: [], currentRows: { insert: [row] }, checkpoint: true });
    const before = await dump(rulesId);
    const ops = Array.from({ length: 300 }, (_, i) => ({ bucket: 'b', op: 'PUT' as const, table: 't', rowId: String(i), data: '{}' }));
    await expect(commitBatch(t.pool, rulesId, { ops, currentRows: { insert: [{ ...row, buckets: [] }] }, checkpoint: true })).rejects.toThrow(/duplicate key/);
    expect(await dump(rulesId)).toEqual(before);
  });

  it('refuses the same way, and leaves nothing behind', async () => {
    const rulesId = await newRulesVersion(t.storage);
    const ops = Array.from({ length: 300 }, (_, i) => ({ bucket: 'b', op: 'PUT' as const, table: 't', rowId: String(i), data: '{}' }));
    await commitBatch(t.pool, rulesId, { ops, checkpoint: true, lsn: '1/0' });
    const before = await dump(rulesId);
    for (const copyOpsFrom of [0, Infinity]) {
      const error = await commitBatch(t.pool, rulesId, { ops, checkpoint: true, lsn: '0/10' }, { copyOpsFrom }).catch((e: unknown) => e);
      expect(isLockstepError(error, StorageErrorCode.lsnRegression)).toBe(true);
    }
    expect(await dump(rulesId)).toEqual(before);
    await t.storage.retireRulesVersion(rulesId);
    const retired = await commitBatch(t.pool, rulesId, { ops, checkpoint: true }, { copyOpsFrom: 0 }).catch((e: unknown) => e);
    expect(isLockstepError(retired, StorageErrorCode.rulesVersionState)).toBe(true);
    expect(await dump(rulesId)).toEqual(before);
  });
});
