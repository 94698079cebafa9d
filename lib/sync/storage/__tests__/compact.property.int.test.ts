import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addChecksums, opChecksum } from '@/lib/sync/protocol/checksum';
import type { BatchOp } from '../types';
import { applyOps, createStorageDatabase, emptyClientBucket, newRulesVersion, readAllOps, type ClientBucket } from './helpers';

/**
 * Model-based test of compaction: random batches of PUT/REMOVE over a few buckets and rows,
 * compactions (with tiny page and chunk sizes, so paging and chunking run) at random points,
 * and clients that sync at random checkpoints and catch up later. Compared with a model that
 * keeps every op ever written.
 */

let t: Awaited<ReturnType<typeof createStorageDatabase>>;
beforeAll(async () => {
  t = await createStorageDatabase();
});
afterAll(async () => {
  await t?.drop();
});

const BUCKETS = ['b0', 'b1', 'b2'];

const writeArb = fc.record({
  bucket: fc.constantFrom(...BUCKETS),
  table: fc.constantFrom('t0', 't1'),
  row: fc.constantFrom('r0', 'r1', 'r2', 'r3'),
  op: fc.constantFrom('PUT', 'PUT', 'REMOVE'),
  v: fc.nat(9),
});
const actionArb = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('batch' as const), writes: fc.array(writeArb, { minLength: 1, maxLength: 10 }), checkpoint: fc.boolean() }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('compact' as const),
      pageSize: fc.integer({ min: 1, max: 6 }),
      clearChunk: fc.integer({ min: 2, max: 5 }),
      maxTrackedRows: fc.constantFrom(1, 3, 1000),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('client' as const), bucket: fc.constantFrom(...BUCKETS) }) },
);

interface ModelOp {
  opId: number;
  op: 'PUT' | 'REMOVE';
  key: string;
  data: string | null;
  checksum: number;
}

/** The rows and checksum of a bucket after the model's ops up to `upTo`. */
function modelState(ops: ModelOp[], upTo: number): { rows: Map<string, string>; checksum: number } {
  const rows = new Map<string, string>();
  let checksum = 0;
  for (const op of ops) {
    if (op.opId > upTo) break;
    if (op.op === 'PUT') rows.set(op.key, op.data!);
    else rows.delete(op.key);
    checksum = addChecksums(checksum, op.checksum);
  }
  return { rows, checksum };
}

describe('compaction (property)', () => {
  it('keeps checksums, keeps what every client ends up with, and shrinks buckets to their live rows', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(actionArb, { minLength: 1, maxLength: 14 }), async (actions) => {
        const rulesId = await newRulesVersion(t.storage);
        const model = new Map<string, ModelOp[]>(BUCKETS.map((b) => [b, []]));
        const clients: Array<{ bucket: string; state: ClientBucket }> = [];
        let checkpoint = 0;

        for (const action of actions) {
          if (action.kind === 'batch') {
            const ops: BatchOp[] = action.writes.map((w) => ({ bucket: w.bucket, op: w.op, table: w.table, rowId: w.row, data: w.op === 'PUT' ? `{"v":${w.v}}` : null }));
            const result = await t.storage.commitBatch(rulesId, { ops, checkpoint: action.checkpoint });
            ops.forEach((op, i) => model.get(op.bucket)!.push({ opId: result.firstOpId! + i, op: op.op, key: `${op.table}/${op.rowId}`, data: op.data, checksum: opChecksum(op.op, op.table, op.rowId, op.data) }));
            if (result.checkpoint) checkpoint = result.checkpoint.opId;
          } else if (action.kind === 'compact') {
            await t.storage.compact(rulesId, { pageSize: action.pageSize, clearChunk: action.clearChunk, maxTrackedRows: action.maxTrackedRows });
          } else {
            // A client syncs the bucket to the latest checkpoint: it must hold exactly the model's state there.
            const state = applyOps(emptyClientBucket(), await readAllOps(t.storage, rulesId, action.bucket, 0, checkpoint, 3));
            const expected = modelState(model.get(action.bucket)!, checkpoint);
            expect(state.rows).toEqual(expected.rows);
            expect(state.checksum).toBe(expected.checksum);
            clients.push({ bucket: action.bucket, state });
          }
        }

        const final = (await t.storage.commitBatch(rulesId, { ops: [], checkpoint: true })).checkpoint!.opId;
        // Listing the buckets forces them: a bucket unchanged since a memory-capped run is otherwise skipped.
        await t.storage.compact(rulesId, { buckets: BUCKETS });
        const states = await t.storage.bucketStates(rulesId, BUCKETS);
        for (const bucket of BUCKETS) {
          const expected = modelState(model.get(bucket)!, final);
          const stored = await readAllOps(t.storage, rulesId, bucket, 0, final, 5);
          // Checksum unchanged by compaction, and still the sum of the stored ops.
          expect(states.get(bucket)!.checksum).toBe(expected.checksum);
          expect(stored.map((o) => o.checksum).reduce(addChecksums, 0)).toBe(expected.checksum);
          expect(states.get(bucket)!.count).toBe(stored.length);
          // A new client, and every client that synced earlier and now catches up, ends up right.
          const fresh = applyOps(emptyClientBucket(), stored);
          expect(fresh.rows).toEqual(expected.rows);
          expect(fresh.checksum).toBe(expected.checksum);
          for (const client of clients.filter((c) => c.bucket === bucket)) {
            const caughtUp = applyOps(client.state, await readAllOps(t.storage, rulesId, bucket, client.state.lastOpId, final, 2));
            expect(caughtUp.rows).toEqual(expected.rows);
            expect(caughtUp.checksum).toBe(expected.checksum);
          }
          // Fully compacted: one PUT per live row, every PUT/REMOVE is its row's latest op, at most one CLEAR and only first.
          expect(stored.filter((o) => o.op === 'PUT')).toHaveLength(expected.rows.size);
          const keys = stored.filter((o) => o.op === 'PUT' || o.op === 'REMOVE').map((o) => `${o.table}/${o.rowId}`);
          expect(new Set(keys).size).toBe(keys.length);
          expect(stored.slice(1).some((o) => o.op === 'CLEAR')).toBe(false);
          if (stored.length > 0) expect(['CLEAR', 'PUT']).toContain(stored[0]!.op);
          if (expected.rows.size === 0) expect(stored.map((o) => o.op)).toEqual(model.get(bucket)!.length > 0 ? ['CLEAR'] : []);
        }
      }),
      { numRuns: 150 },
    );
  });
});
