import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addChecksums } from '@/lib/sync/protocol/checksum';
import { createStorageDatabase, newRulesVersion, put, readAllOps, remove } from './helpers';

let t: Awaited<ReturnType<typeof createStorageDatabase>>;
beforeAll(async () => {
  t = await createStorageDatabase();
});
afterAll(async () => {
  await t?.drop();
});

describe('stream reads', () => {
  it('pages through a bucket in op id order within (after, upTo]', async () => {
    const rulesId = await newRulesVersion(t.storage);
    const ops = Array.from({ length: 25 }, (_, i) => put(i % 2 ? 'odd' : 'even', `r${i}`, `{"i":${i}}`));
    await t.storage.commitBatch(rulesId, { ops, checkpoint: true });
    const even = await t.storage.readOps(rulesId, 'even', 0, 25, 5);
    expect(even.map((o) => o.opId)).toEqual([1, 3, 5, 7, 9]);
    const next = await t.storage.readOps(rulesId, 'even', 9, 25, 5);
    expect(next.map((o) => o.opId)).toEqual([11, 13, 15, 17, 19]);
    expect((await t.storage.readOps(rulesId, 'even', 19, 22, 100)).map((o) => o.opId)).toEqual([21]);
    const all = await readAllOps(t.storage, rulesId, 'even', 0, 25, 4);
    expect(all.map((o) => o.opId)).toEqual(Array.from({ length: 13 }, (_, i) => 2 * i + 1));
    expect(all.map((o) => o.data)).toEqual(Array.from({ length: 13 }, (_, i) => `{"i":${2 * i}}`));
  });

  it('sums checksum ranges that add up to the bucket total', async () => {
    const rulesId = await newRulesVersion(t.storage);
    await t.storage.commitBatch(rulesId, { ops: Array.from({ length: 30 }, (_, i) => (i % 7 === 3 ? remove('b', `r${i % 5}`) : put('b', `r${i % 5}`, `{"v":${i}}`))), checkpoint: true });
    const total = (await t.storage.bucketStates(rulesId, ['b'])).get('b')!;
    const left = await t.storage.checksumRange(rulesId, 'b', 0, 12);
    const right = await t.storage.checksumRange(rulesId, 'b', 12, 30);
    expect(addChecksums(left.checksum, right.checksum)).toBe(total.checksum);
    expect(left.count + right.count).toBe(30);
    expect(left.cleared).toBe(false);
    const ops = await readAllOps(t.storage, rulesId, 'b', 0, 30);
    expect(ops.map((o) => o.checksum).reduce(addChecksums, 0)).toBe(total.checksum);
  });

  it('checkpointState leaves out ops committed after the latest checkpoint (a half-written source transaction)', async () => {
    const rulesId = await newRulesVersion(t.storage);
    await t.storage.commitBatch(rulesId, { ops: [put('a', '1', '{"v":1}'), put('b', '1', '{"v":1}')], checkpoint: true, lsn: '0/A' });
    const atCheckpoint = await t.storage.checkpointState(rulesId, ['a', 'b', 'c']);
    // First half of a large transaction: no checkpoint yet.
    await t.storage.commitBatch(rulesId, { ops: [put('a', '2', '{"v":2}'), put('c', '1', '{}')], checkpoint: false, lsn: '0/B' });
    const during = await t.storage.checkpointState(rulesId, ['a', 'b', 'c']);
    expect(during).toEqual(atCheckpoint);
    expect(during.checkpoint).toEqual({ opId: 2, lsn: '0/A' });
    expect(during.buckets.get('a')).toMatchObject({ count: 1, lastOpId: 1 });
    expect(during.buckets.get('c')).toMatchObject({ checksum: 0, count: 0, lastOpId: 0 });
    expect((await t.storage.bucketStates(rulesId, ['a'])).get('a')).toMatchObject({ count: 2, lastOpId: 3 });
    // The second half ends the transaction: now the totals include it.
    await t.storage.commitBatch(rulesId, { ops: [put('b', '2', '{}')], checkpoint: true, lsn: '0/C' });
    const after = await t.storage.checkpointState(rulesId, ['a', 'b', 'c']);
    expect(after.checkpoint).toEqual({ opId: 5, lsn: '0/C' });
    expect(after.buckets).toEqual(await t.storage.bucketStates(rulesId, ['a', 'b', 'c']));
  });
});

describe('parameter index', () => {
  it('upserts, replaces and deletes the entries of source rows, and looks them up', async () => {
    const rulesId = await newRulesVersion(t.storage);
    const member = (user: string, list: string, row: string) => ({ lookup: `members.user_id=${user}`, sourceTable: 'list_members', sourceRowId: row, values: [[list]] });
    await t.storage.commitBatch(rulesId, { ops: [], parameters: { upsert: [member('u1', 'L1', 'm1'), member('u1', 'L2', 'm2'), member('u2', 'L1', 'm3')] }, checkpoint: true });
    let found = await t.storage.lookupParameters(rulesId, ['members.user_id=u1', 'members.user_id=u2', 'members.user_id=u3']);
    expect(found.get('members.user_id=u1')).toEqual([['L1'], ['L2']]);
    expect(found.get('members.user_id=u2')).toEqual([['L1']]);
    expect(found.get('members.user_id=u3')).toEqual([]);

    // m2 moves from u1 to u2 (delete all its entries, upsert the new one); m1 is deleted outright.
    await t.storage.commitBatch(rulesId, {
      ops: [],
      parameters: { delete: [{ sourceTable: 'list_members', sourceRowId: 'm2' }, { sourceTable: 'list_members', sourceRowId: 'm1' }], upsert: [member('u2', 'L2', 'm2')] },
      checkpoint: true,
    });
    found = await t.storage.lookupParameters(rulesId, ['members.user_id=u1', 'members.user_id=u2']);
    expect(found.get('members.user_id=u1')).toEqual([]);
    expect(found.get('members.user_id=u2')).toEqual([['L2'], ['L1']]); // in source row order: m2, m3

    // Deleting and re-upserting the same entry in one batch keeps it (deletes apply first).
    await t.storage.commitBatch(rulesId, { ops: [], parameters: { delete: [{ sourceTable: 'list_members', sourceRowId: 'm3' }], upsert: [{ ...member('u2', 'L1', 'm3'), values: [['L1'], ['L9']] }] }, checkpoint: true });
    expect((await t.storage.lookupParameters(rulesId, ['members.user_id=u2'])).get('members.user_id=u2')).toEqual([['L2'], ['L1'], ['L9']]); // m2's tuples, then m3's

    // TRUNCATE of the parameter table.
    await t.storage.commitBatch(rulesId, { ops: [], parameters: { deleteTables: ['list_members'] }, checkpoint: true });
    expect((await t.storage.lookupParameters(rulesId, ['members.user_id=u2'])).get('members.user_id=u2')).toEqual([]);
  });

  it('keeps parameter entries of different rules versions apart', async () => {
    const a = await newRulesVersion(t.storage);
    await t.storage.commitBatch(a, { ops: [], parameters: { upsert: [{ lookup: 'k', sourceTable: 't', sourceRowId: '1', values: [['A']] }] }, checkpoint: true });
    const b = await newRulesVersion(t.storage);
    expect((await t.storage.lookupParameters(b, ['k'])).get('k')).toEqual([]);
    expect((await t.storage.lookupParameters(a, ['k'])).get('k')).toEqual([['A']]);
  });
});

describe('write checkpoints', () => {
  it('finds the highest write checkpoint at or before an LSN, comparing LSNs numerically', async () => {
    const first = await t.storage.createWriteCheckpoint('u1', 'c1', '0/FF');
    const second = await t.storage.createWriteCheckpoint('u1', 'c1', '1/0'); // textually "1/0" < "0/FF"
    const third = await t.storage.createWriteCheckpoint('u1', 'c1', 'A/10');
    expect(second).toBeGreaterThan(first);
    expect(await t.storage.writeCheckpointFor('u1', 'c1', '0/FE')).toBeNull();
    expect(await t.storage.writeCheckpointFor('u1', 'c1', '0/FF')).toBe(first);
    expect(await t.storage.writeCheckpointFor('u1', 'c1', '9/FFFFFFFF')).toBe(second);
    expect(await t.storage.writeCheckpointFor('u1', 'c1', 'A/10')).toBe(third);
    expect(await t.storage.writeCheckpointFor('u1', 'other-client', 'FF/0')).toBeNull();
    expect(await t.storage.writeCheckpointFor('u2', 'c1', 'FF/0')).toBeNull();
  });

  it('keeps a bounded history per client', async () => {
    const ids: number[] = [];
    for (let i = 0; i < 40; i++) ids.push(await t.storage.createWriteCheckpoint('u9', 'c9', `0/${(i + 1).toString(16)}`));
    const { rows } = await t.pool.query<{ n: string }>("SELECT count(*) AS n FROM lockstep.write_checkpoints WHERE user_id = 'u9'");
    expect(Number(rows[0]!.n)).toBe(16);
    expect(await t.storage.writeCheckpointFor('u9', 'c9', '0/28')).toBe(ids[39]);
    expect(await t.storage.writeCheckpointFor('u9', 'c9', '0/1A')).toBe(ids[25]);
  });
});
