import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '@/test/db';
import { dataLineSchema, opSchema } from '@/lib/sync/protocol';
import { encodeDataLine } from '../stream/encode';
import { bucketStatesAt, checkpointState, clientKey, commitBatch, createRulesVersion, createWriteCheckpoint, lookupsChangedSince, migrateStorage, readOps, readOpsPage, writeCheckpointsAt, writeCheckpointsFor } from '@/lib/sync/storage';

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
    expect(none).toEqual({ lsn: null, ids: new Map() });
  });
});
