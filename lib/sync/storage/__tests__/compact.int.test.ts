import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addChecksums } from '@/lib/sync/protocol/checksum';
import { isLockstepError } from '@/lib/sync/errors';
import { StorageErrorCode } from '../errors';
import { applyOps, createStorageDatabase, emptyClientBucket, newRulesVersion, put, readAllOps, remove } from './helpers';

let t: Awaited<ReturnType<typeof createStorageDatabase>>;
beforeAll(async () => {
  t = await createStorageDatabase();
});
afterAll(async () => {
  await t?.drop();
});

describe('compact', () => {
  it('turns superseded ops into MOVE and merges the leading run into one CLEAR', async () => {
    const rulesId = await newRulesVersion(t.storage);
    await t.storage.commitBatch(rulesId, { ops: [put('b', 'r1', '{"v":1}'), put('b', 'r2', '{"v":1}'), put('b', 'r1', '{"v":2}'), remove('b', 'r2'), put('b', 'r3', '{"v":1}'), put('b', 'r3', '{"v":2}')], checkpoint: true });
    const before = await readAllOps(t.storage, rulesId, 'b', 0, 6);
    const sum = (from: number, to: number) => before.slice(from, to).reduce((s, o) => addChecksums(s, o.checksum), 0);
    const result = await t.storage.compact(rulesId);
    const after = await readAllOps(t.storage, rulesId, 'b', 0, 6);
    expect(after.map((o) => [o.opId, o.op, o.rowId, o.data])).toEqual([
      [2, 'CLEAR', null, null], // ops 1 (PUT r1, superseded) and 2 (PUT r2, superseded)
      [3, 'PUT', 'r1', '{"v":2}'],
      [4, 'REMOVE', 'r2', null], // r2's latest op stays: a client may still hold r2
      [5, 'MOVE', null, null],
      [6, 'PUT', 'r3', '{"v":2}'],
    ]);
    expect(after[0]!.checksum).toBe(sum(0, 2));
    expect(after[3]!.checksum).toBe(before[4]!.checksum);
    // Ops 1 and 2 are merged straight into the CLEAR; only op 5 needs to become a MOVE.
    expect(result).toMatchObject({ upToOpId: 6, bucketsCompacted: 1, opsBefore: 6, opsAfter: 5, movedOps: 1, mergedOps: 1 });
    expect(result.dataBytesAfter).toBeLessThan(result.dataBytesBefore);
    expect((await t.storage.bucketStates(rulesId, ['b'])).get('b')).toMatchObject({ checksum: sum(0, 6), count: 5, lastOpId: 6, compactedOpId: 6 });
  });

  it('never touches ops past the latest checkpoint', async () => {
    const rulesId = await newRulesVersion(t.storage);
    await t.storage.commitBatch(rulesId, { ops: [put('b', 'r1', '{"v":1}')], checkpoint: true });
    await t.storage.commitBatch(rulesId, { ops: [put('b', 'r1', '{"v":2}'), put('b', 'r1', '{"v":3}')], checkpoint: false });
    await t.storage.compact(rulesId);
    // Op 1 is superseded only by ops no checkpoint covers yet: a client at checkpoint 1 still needs its PUT.
    expect((await readAllOps(t.storage, rulesId, 'b', 0, 100)).map((o) => o.op)).toEqual(['PUT', 'PUT', 'PUT']);
    await t.storage.commitBatch(rulesId, { ops: [], checkpoint: true });
    await t.storage.compact(rulesId);
    expect((await readAllOps(t.storage, rulesId, 'b', 0, 100)).map((o) => o.op)).toEqual(['CLEAR', 'PUT']);
  });

  it('skips buckets unchanged since their last compaction unless they are listed', async () => {
    const rulesId = await newRulesVersion(t.storage);
    await t.storage.commitBatch(rulesId, { ops: [put('x', 'r', '{}'), put('y', 'r', '{}')], checkpoint: true });
    expect((await t.storage.compact(rulesId)).bucketsCompacted).toBe(2);
    await t.storage.commitBatch(rulesId, { ops: [put('y', 'r', '{"v":2}')], checkpoint: true });
    expect((await t.storage.compact(rulesId)).bucketsCompacted).toBe(1);
    expect((await t.storage.compact(rulesId)).bucketsCompacted).toBe(0);
    expect((await t.storage.compact(rulesId, { buckets: ['x', 'y', 'missing'] })).bucketsCompacted).toBe(2);
  });

  it('runs while batches are committed, and every client still converges', async () => {
    const rulesId = await newRulesVersion(t.storage);
    let stop = false;
    let committed = 0;
    const writer = (async () => {
      for (let i = 0; !stop || i < 50; i++) {
        const ops = Array.from({ length: 20 }, (_, k) => ((i + k) % 9 === 0 ? remove('hot', `r${(i * 7 + k) % 40}`) : put('hot', `r${(i * 7 + k) % 40}`, `{"i":${i},"k":${k}}`)));
        await t.storage.commitBatch(rulesId, { ops, checkpoint: i % 3 === 2 });
        committed += ops.length;
      }
      await t.storage.commitBatch(rulesId, { ops: [], checkpoint: true });
    })();
    const early = applyOps(emptyClientBucket(), []);
    let compactions = 0;
    while (committed < 600 || compactions < 3) {
      const cp = await t.storage.latestCheckpoint(rulesId);
      if (cp && early.lastOpId === 0) applyOps(early, await readAllOps(t.storage, rulesId, 'hot', 0, cp.opId, 50));
      await t.storage.compact(rulesId, { pageSize: 37, clearChunk: 11 });
      compactions++;
    }
    stop = true;
    await writer;
    const { checkpoint, buckets } = await t.storage.checkpointState(rulesId, ['hot']);
    await t.storage.compact(rulesId);
    const all = await readAllOps(t.storage, rulesId, 'hot', 0, checkpoint!.opId, 100);
    const fresh = applyOps(emptyClientBucket(), all);
    expect(fresh.checksum).toBe(buckets.get('hot')!.checksum);
    expect(fresh.rows.size).toBe(all.filter((o) => o.op === 'PUT').length);
    const caughtUp = applyOps(early, await readAllOps(t.storage, rulesId, 'hot', early.lastOpId, checkpoint!.opId, 100));
    expect(caughtUp.rows).toEqual(fresh.rows);
    expect(caughtUp.checksum).toBe(fresh.checksum);
  });

  it('refuses a second compaction of the same version while one runs', async () => {
    const rulesId = await newRulesVersion(t.storage);
    const holder = await t.pool.connect();
    try {
      await holder.query("SELECT pg_advisory_lock(hashtext('lockstep:compact'), $1)", [rulesId]);
      const error = await t.storage.compact(rulesId).catch((e: unknown) => e);
      expect(isLockstepError(error, StorageErrorCode.compactionBusy)).toBe(true);
    } finally {
      await holder.query("SELECT pg_advisory_unlock(hashtext('lockstep:compact'), $1)", [rulesId]);
      holder.release();
    }
    await expect(t.storage.compact(rulesId)).resolves.toMatchObject({ bucketsCompacted: 0 });
  });

  it('deletes checkpoints beyond the newest ones kept', async () => {
    const rulesId = await newRulesVersion(t.storage);
    for (let i = 0; i < 12; i++) await t.storage.commitBatch(rulesId, { ops: [put('b', `r${i}`, '{}')], checkpoint: true });
    expect((await t.storage.compact(rulesId, { keepCheckpoints: 5 })).checkpointsPruned).toBe(7);
    expect(await t.storage.latestCheckpoint(rulesId)).toMatchObject({ opId: 12 });
  });
});
