import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isLockstepError } from '@/lib/sync/errors';
import { addChecksums, opChecksum } from '@/lib/sync/protocol/checksum';
import { StorageErrorCode } from './errors';
import { prepareBatch } from './prepare-batch';
import { assertLsn, lsnToBigInt } from './sql';
import type { BatchOp, CommitBatch } from './types';

const codeOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (error: unknown) {
    return isLockstepError(error) ? error.code : 'not a LockstepError';
  }
  return undefined;
};

describe('prepareBatch', () => {
  it('totals each bucket: sum of op checksums, count, and the position of its last op', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ bucket: fc.constantFrom('a', 'b', 'c'), op: fc.constantFrom('PUT' as const, 'REMOVE' as const), rowId: fc.string(), v: fc.string() }), { maxLength: 40 }),
        (writes) => {
          const ops: BatchOp[] = writes.map((w) => ({ bucket: w.bucket, op: w.op, table: 't', rowId: w.rowId, data: w.op === 'PUT' ? w.v : null }));
          const p = prepareBatch({ ops, checkpoint: true });
          expect(p.ops!.checksums).toEqual(ops.map((o) => opChecksum(o.op, o.table, o.rowId, o.data)));
          for (const bucket of ['a', 'b', 'c']) {
            const at = p.buckets.names.indexOf(bucket);
            const mine = ops.map((o, i) => ({ o, i })).filter(({ o }) => o.bucket === bucket);
            if (mine.length === 0) {
              expect(at).toBe(-1);
              continue;
            }
            expect(p.buckets.counts[at]).toBe(mine.length);
            expect(p.buckets.lastPositions[at]).toBe(mine.at(-1)!.i + 1);
            expect(p.buckets.checksums[at]).toBe(mine.map(({ i }) => p.ops!.checksums[i]!).reduce(addChecksums, 0));
          }
        },
      ),
    );
  });

  it('with an OpSink, hands it every op in order and keeps no op columns, with the same totals', () => {
    const ops: BatchOp[] = [
      { bucket: 'a', op: 'PUT', table: 't', rowId: '1', data: '{"v":1}' },
      { bucket: 'b', op: 'REMOVE', table: 't', rowId: '2', data: null },
      { bucket: 'a', op: 'PUT', table: 't', rowId: '3', data: '{"v":3}' },
    ];
    const taken: string[] = [];
    const sink = { add: (bucket: string, op: 'PUT' | 'REMOVE', table: string, rowId: string, data: string | null) => (taken.push(`${bucket}/${op}/${rowId}`), opChecksum(op, table, rowId, data)) };
    const withSink = prepareBatch({ ops, checkpoint: true }, sink);
    const without = prepareBatch({ ops, checkpoint: true });
    expect(taken).toEqual(['a/PUT/1', 'b/REMOVE/2', 'a/PUT/3']);
    expect(withSink.ops).toBeNull();
    expect(withSink.opCount).toBe(3);
    expect(without.opCount).toBe(3);
    expect(withSink.buckets).toEqual(without.buckets);
  });

  it('keeps the last upsert of a key and drops deletes of upserted current rows', () => {
    const batch: CommitBatch = {
      ops: [],
      currentRows: {
        upsert: [
          { table: 't', rowId: '1', buckets: ['a'], values: { v: '1' } },
          { table: 't', rowId: '1', buckets: ['b'], values: { v: '2' } },
        ],
        delete: [{ table: 't', rowId: '1' }, { table: 't', rowId: '2' }, { table: 't', rowId: '2' }],
      },
      parameters: { upsert: [{ lookup: 'l', sourceTable: 't', sourceRowId: '1', values: [['x']] }, { lookup: 'l', sourceTable: 't', sourceRowId: '1', values: [['y']] }] },
      checkpoint: false,
    };
    const p = prepareBatch(batch);
    expect(p.rowUpserts).toEqual({ tables: ['t'], rowIds: ['1'], buckets: [['b']], values: [{ v: '2' }] });
    expect(p.rowDeletes).toEqual({ tables: ['t'], rowIds: ['2'] });
    expect(p.paramUpserts.values).toEqual([[['y']]]);
  });

  it('refuses malformed batches with STORAGE_BATCH_INVALID', () => {
    const base = { bucket: 'b', table: 't', rowId: 'r' };
    const bad: CommitBatch[] = [
      { ops: [{ ...base, op: 'MOVE' as 'PUT', data: null }], checkpoint: true },
      { ops: [{ ...base, op: 'PUT', data: null }], checkpoint: true },
      { ops: [{ ...base, op: 'REMOVE', data: '{}' }], checkpoint: true },
      { ops: [{ ...base, bucket: '', op: 'PUT', data: '{}' }], checkpoint: true },
      { ops: [], parameters: { upsert: [{ lookup: 'l', sourceTable: 't', sourceRowId: 'r', values: ['x'] as unknown as string[][] }] }, checkpoint: true },
      { ops: [], currentRows: { upsert: [{ table: 't', rowId: 'r', buckets: 'b' as unknown as string[], values: {} }] }, checkpoint: true },
    ];
    for (const batch of bad) expect(codeOf(() => prepareBatch(batch))).toBe(StorageErrorCode.batchInvalid);
    expect(codeOf(() => prepareBatch({ ops: [], lsn: 'nope', checkpoint: true }))).toBe(StorageErrorCode.lsnInvalid);
    expect(codeOf(() => prepareBatch({ ops: [{ ...base, op: 'REMOVE', data: null }], lsn: '0/1', checkpoint: true }))).toBeUndefined();
  });
});

describe('LSNs', () => {
  it('compare numerically, not as text', () => {
    expect(lsnToBigInt('1/0') > lsnToBigInt('0/FFFFFFFF')).toBe(true);
    expect(lsnToBigInt('A/10')).toBe((10n << 32n) + 16n);
    expect(() => assertLsn('0/')).toThrow();
    expect(() => assertLsn("0/1'; DROP")).toThrow();
  });
});
