import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '@/test/db';
import { dataLineSchema, opSchema } from '@/lib/sync/protocol';
import { encodeDataLine } from '../stream/encode';
import { bucketStatesAt, checkpointState, clientKey, commitBatch, createRulesVersion, createWriteCheckpoint, lookupsChangedSince, migrateStorage, readOps, readOpsPage, writeCheckpointsAt, writeCheckpointsFor } from '@/lib/sync/storage';
import { bucketsChangedAt, writeCheckpointsReachedAt } from '@/lib/sync/storage/stream-reads';

let db: TestDatabase;
let rulesId: number;

beforeAll(async () => {
  db = await createTestDatabase({ prefix: 'reads', migrate: false });
  await migrateStorage(db.url);
  rulesId = (await createRulesVersion(db.pool, { versionHash: 'h', slotName: 's' })).id;
});
afterAll(async () => {
  await db?.drop();
});

/** Every op of a bucket through readOpsPage and the stream's encoder, parsed back with the protocol schema. */
async function readAllText(bucket: string, maxOps: number, maxBytes: number) {
  const ops = [];
  let after = 0;
  let pages = 0;
  for (;;) {
    const page = await readOpsPage(db.pool, rulesId, bucket, after, Number.MAX_SAFE_INTEGER, { maxOps, maxBytes });
    if (page.ops.length === 0) break;
    pages++;
    const bytes = encodeDataLine(bucket, after, page);
    const text = bytes.toString('utf8');
    expect(text.endsWith('}\n')).toBe(true);
    expect(text.indexOf('\n')).toBe(text.length - 1);
    const line = dataLineSchema.parse(JSON.parse(text));
    const parsed = line.ops.map((op) => opSchema.parse(op));
    expect(parsed).toHaveLength(page.ops.length);
    expect(line).toMatchObject({ bucket, after: String(after), next_after: parsed.at(-1)!.op_id, has_more: page.hasMore });
    ops.push(...parsed);
    after = Number(line.next_after);
    if (!page.hasMore) break;
  }
  return { ops, pages };
}

describe('readOpsPage and encodeDataLine: op pages on the wire', () => {
  it('encodes any text exactly as JSON.stringify would decode it (property)', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme' }), fc.boolean()), { minLength: 1, maxLength: 20 }), async (rows) => {
        const bucket = `b["${n++}"]`;
        // Postgres text cannot hold NUL; the replicator never produces it either.
        const clean = (s: string) => s.replaceAll('\u0000', '').replace(/[\ud800-\udfff]/g, '');
        const ops = rows.map(([id, value, put], i) => ({ bucket, op: put ? ('PUT' as const) : ('REMOVE' as const), table: 'todos', rowId: `${clean(id)}-${i}`, data: put ? JSON.stringify({ v: clean(value) }) : null }));
        await commitBatch(db.pool, rulesId, { ops, checkpoint: true });
        const expected = await readOps(db.pool, rulesId, bucket, 0, Number.MAX_SAFE_INTEGER, 1000);
        const { ops: actual } = await readAllText(bucket, 7, 1 << 20);
        expect(actual).toEqual(expected.map((o) => ({ op_id: String(o.opId), op: o.op, table: o.table, row_id: o.rowId, data: o.data, checksum: o.checksum })));
      }),
      { numRuns: 30 },
    );
  });

  it('encodes MOVE and CLEAR ops with null table, row id and data', async () => {
    await commitBatch(db.pool, rulesId, { ops: [{ bucket: 'mc', op: 'PUT', table: 't', rowId: 'r', data: '{}' }], checkpoint: true });
    const [last] = (await db.pool.query<{ n: string }>('SELECT last_op_id AS n FROM lockstep.rules_versions WHERE id = $1', [rulesId])).rows;
    await db.pool.query("UPDATE lockstep.ops SET op = 'CLEAR', table_name = NULL, row_id = NULL, data = NULL WHERE rules_id = $1 AND bucket = 'mc' AND op_id = $2", [rulesId, last!.n]);
    const { ops } = await readAllText('mc', 10, 1000);
    expect(ops).toEqual([{ op_id: last!.n, op: 'CLEAR', table: null, row_id: null, data: null, checksum: expect.any(Number) }]);
  });

  it('bounds pages by op count and by data bytes, and says when more follow', async () => {
    const big = 'x'.repeat(1000);
    await commitBatch(db.pool, rulesId, { ops: Array.from({ length: 50 }, (_, i) => ({ bucket: 'big', op: 'PUT' as const, table: 't', rowId: `r${i}`, data: JSON.stringify({ big }) })), checkpoint: true });
    expect((await readAllText('big', 20, 1 << 20)).pages).toBe(3);
    // 1,010-byte rows with a 4,000-byte budget: 4 rows per page (the 4th crosses the budget).
    const byBytes = await readAllText('big', 1000, 4000);
    expect(byBytes.ops).toHaveLength(50);
    expect(byBytes.pages).toBe(13);
    // A single row larger than the budget still makes progress.
    expect((await readAllText('big', 1000, 10)).pages).toBe(50);
    const empty = await readOpsPage(db.pool, rulesId, 'no-such-bucket', 0, 100, { maxOps: 10, maxBytes: 100 });
    expect(empty).toEqual({ ops: [], hasMore: false });
  });
});

describe('writeCheckpointsFor', () => {
  it('answers many clients in one query: the highest id at or below the LSN, per client', async () => {
    const a1 = await createWriteCheckpoint(db.pool, 'u1', 'c1', '0/100');
    const a2 = await createWriteCheckpoint(db.pool, 'u1', 'c1', '0/200');
    const b1 = await createWriteCheckpoint(db.pool, 'u2', 'c1', '0/150');
    const found = await writeCheckpointsFor(db.pool, [{ userId: 'u1', clientId: 'c1' }, { userId: 'u2', clientId: 'c1' }, { userId: 'u3', clientId: 'c1' }], '0/180');
    expect(found.get(clientKey('u1', 'c1'))).toBe(a1);
    expect(found.get(clientKey('u2', 'c1'))).toBe(b1);
    expect(found.has(clientKey('u3', 'c1'))).toBe(false);
    expect((await writeCheckpointsFor(db.pool, [{ userId: 'u1', clientId: 'c1' }], '1/0')).get(clientKey('u1', 'c1'))).toBe(a2);
    expect((await writeCheckpointsFor(db.pool, [], '1/0')).size).toBe(0);
  });
});

describe('round reads: what changed since a checkpoint', () => {
  it('bucketStatesAt returns only buckets changed since, exactly as of the checkpoint, plus those asked for', async () => {
    const a = await commitBatch(db.pool, rulesId, { ops: [{ bucket: 'ra', op: 'PUT', table: 't', rowId: '1', data: '{}' }, { bucket: 'rb', op: 'PUT', table: 't', rowId: '1', data: '{}' }], checkpoint: true });
    const b = await commitBatch(db.pool, rulesId, { ops: [{ bucket: 'ra', op: 'PUT', table: 't', rowId: '2', data: '{}' }], checkpoint: true });
    // Half a source transaction, past the checkpoint: must not show.
    await commitBatch(db.pool, rulesId, { ops: [{ bucket: 'ra', op: 'PUT', table: 't', rowId: '3', data: '{}' }], checkpoint: false });
    const changed = await bucketStatesAt(db.pool, rulesId, ['ra', 'rb', 'rc'], b.lastOpId, a.lastOpId, ['rb', 'never-written']);
    const exact = (await checkpointState(db.pool, rulesId, ['ra', 'rb'])).buckets;
    expect([...changed.keys()].sort()).toEqual(['never-written', 'ra', 'rb']);
    expect(changed.get('ra')).toEqual(exact.get('ra'));
    expect(changed.get('rb')).toEqual(exact.get('rb'));
    expect(changed.get('never-written')).toEqual({ checksum: 0, count: 0, lastOpId: 0, compactedOpId: 0 });
    expect((await bucketStatesAt(db.pool, rulesId, ['ra', 'rb'], b.lastOpId, b.lastOpId, [])).size).toBe(0);
    await commitBatch(db.pool, rulesId, { ops: [], checkpoint: true });
  });

  it('lookupsChangedSince returns every key when unknown, then only those whose tuples changed', async () => {
    await commitBatch(db.pool, rulesId, { ops: [], parameters: { upsert: [{ lookup: 'k1', sourceTable: 't', sourceRowId: 'a', values: [['x']] }, { lookup: 'k1', sourceTable: 't', sourceRowId: 'b', values: [['y'], ['z']] }, { lookup: 'k2', sourceTable: 't', sourceRowId: 'c', values: [['w']] }] }, checkpoint: true });
    const first = await lookupsChangedSince(db.pool, rulesId, new Map([['k1', null], ['k2', null], ['k3', null]]));
    expect(first.get('k1')?.values).toEqual([['x'], ['y'], ['z']]);
    expect(first.get('k3')).toEqual({ values: [], signature: '' });
    const known = new Map([...first].map(([key, found]) => [key, found.signature]));
    expect((await lookupsChangedSince(db.pool, rulesId, known)).size).toBe(0);
    await commitBatch(db.pool, rulesId, { ops: [], parameters: { delete: [{ sourceTable: 't', sourceRowId: 'b' }], upsert: [{ lookup: 'k3', sourceTable: 't', sourceRowId: 'd', values: [['v']] }] }, checkpoint: true });
    const later = await lookupsChangedSince(db.pool, rulesId, known);
    expect([...later.keys()].sort()).toEqual(['k1', 'k3']);
    expect(later.get('k1')?.values).toEqual([['x']]);
    expect(later.get('k3')?.values).toEqual([['v']]);
  });

  it('writeCheckpointsAt reads the checkpoint LSN and answers per client', async () => {
    const cp = await commitBatch(db.pool, rulesId, { ops: [], lsn: '0/500', checkpoint: true });
    const id = await createWriteCheckpoint(db.pool, 'wa', 'c', '0/400');
    await createWriteCheckpoint(db.pool, 'wa', 'c', '0/600');
    const at = await writeCheckpointsAt(db.pool, rulesId, cp.lastOpId, [{ userId: 'wa', clientId: 'c' }, { userId: 'wb', clientId: 'c' }]);
    expect(at.lsn).toBe('0/500');
    expect([...at.ids]).toEqual([[clientKey('wa', 'c'), id]]);
    const none = await writeCheckpointsAt(db.pool, rulesId, 999_999, [{ userId: 'wa', clientId: 'c' }]);
    expect(none).toEqual({ lsn: null, ids: new Map(), maxId: expect.any(Number) });
    expect(at.maxId).toBeGreaterThanOrEqual(id + 1);
  });

  it('bucketsChangedAt finds every bucket changed since, as bucketStatesAt does, from the index alone', async () => {
    const a = await commitBatch(db.pool, rulesId, { ops: [{ bucket: 'ca', op: 'PUT', table: 't', rowId: '1', data: '{}' }, { bucket: 'cb', op: 'PUT', table: 't', rowId: '1', data: '{}' }], checkpoint: true });
    const b = await commitBatch(db.pool, rulesId, { ops: [{ bucket: 'ca', op: 'PUT', table: 't', rowId: '2', data: '{}' }, { bucket: 'cc', op: 'PUT', table: 't', rowId: '1', data: '{}' }], checkpoint: true });
    // Half a source transaction past the checkpoint, in a changed bucket and in one that did not change before it.
    await commitBatch(db.pool, rulesId, { ops: [{ bucket: 'ca', op: 'PUT', table: 't', rowId: '3', data: '{}' }, { bucket: 'cd', op: 'PUT', table: 't', rowId: '1', data: '{}' }], checkpoint: false });
    const changed = (await bucketsChangedAt(db.pool, rulesId, b.lastOpId, a.lastOpId, 100))!;
    expect([...changed.keys()].sort()).toEqual(['ca', 'cc']);
    expect(changed).toEqual(await bucketStatesAt(db.pool, rulesId, ['ca', 'cb', 'cc', 'cd'], b.lastOpId, a.lastOpId, []));
    const exact = (await checkpointState(db.pool, rulesId, ['ca', 'cc'])).buckets;
    expect(changed.get('ca')).toEqual(exact.get('ca'));
    // From before the first batch: every bucket either wrote, as of checkpoint b.
    const all = (await bucketsChangedAt(db.pool, rulesId, b.lastOpId, a.lastOpId - 2, 100))!;
    expect([...all.keys()].filter((k) => k.startsWith('c') && k.length === 2).sort()).toEqual(['ca', 'cb', 'cc']);
    expect((await bucketsChangedAt(db.pool, rulesId, b.lastOpId, b.lastOpId, 100))!.size).toBe(0);
    // Too many changed: null, so that the caller asks for the buckets it needs instead.
    expect(await bucketsChangedAt(db.pool, rulesId, b.lastOpId, a.lastOpId - 2, 2)).toBeNull();
    await commitBatch(db.pool, rulesId, { ops: [], checkpoint: true });
  });

  it('writeCheckpointsReachedAt finds those past the previous LSN, and late ones by id', async () => {
    const base = (await writeCheckpointsAt(db.pool, rulesId, 0, [])).maxId;
    const previous = await commitBatch(db.pool, rulesId, { ops: [], lsn: '0/1000', checkpoint: true });
    // Reached by the previous checkpoint and read then: not news.
    await createWriteCheckpoint(db.pool, 'ra', 'c', '0/0F00');
    const seen = (await writeCheckpointsAt(db.pool, rulesId, previous.lastOpId, [])).maxId;
    // Committed only after the previous checkpoint was read, though its LSN is before it.
    const late = await createWriteCheckpoint(db.pool, 'rb', 'c', '0/0F80');
    const reached = await createWriteCheckpoint(db.pool, 'rc', 'c', '0/1100');
    const older = await createWriteCheckpoint(db.pool, 'rd', 'c', '0/1050');
    const newer = await createWriteCheckpoint(db.pool, 'rd', 'c', '0/1150');
    const pending = await createWriteCheckpoint(db.pool, 're', 'c', '0/3000');
    const cp = await commitBatch(db.pool, rulesId, { ops: [], lsn: '0/2000', checkpoint: true });
    const at = await writeCheckpointsReachedAt(db.pool, rulesId, cp.lastOpId, seen, '0/1000');
    expect(at.lsn).toBe('0/2000');
    expect(at.maxId).toBe(pending);
    expect(Object.fromEntries(at.ids)).toEqual({ [clientKey('rb', 'c')]: late, [clientKey('rc', 'c')]: reached, [clientKey('rd', 'c')]: newer });
    expect(older).toBeLessThan(newer);
    // With an id window from before everything: the one read before comes back too (harmless: not newer for its client).
    expect((await writeCheckpointsReachedAt(db.pool, rulesId, cp.lastOpId, base, '0/1000')).ids.has(clientKey('ra', 'c'))).toBe(true);
    // The LSN of a checkpoint can move on under the same op id: the pending one is reached then, found by its LSN alone.
    await commitBatch(db.pool, rulesId, { ops: [], lsn: '0/4000', checkpoint: true });
    const moved = await writeCheckpointsReachedAt(db.pool, rulesId, cp.lastOpId, pending, '0/2000');
    expect(moved.lsn).toBe('0/4000');
    expect(Object.fromEntries(moved.ids)).toEqual({ [clientKey('re', 'c')]: pending });
    expect((await writeCheckpointsReachedAt(db.pool, rulesId, 999_999, 0, '0/0')).ids.size).toBe(0);
  });
});
