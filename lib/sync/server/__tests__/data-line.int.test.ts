import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '@/test/db';
import { dataLineSchema } from '@/lib/sync/protocol';
import { commitBatch, createRulesVersion, migrateStorage, readOps, readOpsPage } from '@/lib/sync/storage';
import { copyOutBinary, copyOutBytes } from '@/lib/sync/storage/copy-out';
import { PAGE_INVALID_ERROR } from '@/lib/sync/storage/ops-pages';
import { readDataLine } from '../stream/data-line';

/**
 * The stream's data lines, read with binary COPY and encoded from its bytes (data-line.ts), checked
 * against an independent path: the ops read by a plain query (readOps) and the line built by
 * JSON.stringify.
 */

let db: TestDatabase;
let rulesId: number;
const END = Number.MAX_SAFE_INTEGER;

beforeAll(async () => {
  db = await createTestDatabase({ prefix: 'dataline', migrate: false });
  await migrateStorage(db.url);
  rulesId = (await createRulesVersion(db.pool, { versionHash: 'h', slotName: 's' })).id;
});
afterAll(async () => {
  await db?.drop();
});

type Put = { op: 'PUT'; data: string } | { op: 'REMOVE'; data: null };

async function write(bucket: string, rows: Array<{ rowId: string } & Put>): Promise<void> {
  await commitBatch(db.pool, rulesId, { ops: rows.map((r) => ({ bucket, table: 'todos', ...r })), checkpoint: true });
}

/** The line JSON.stringify makes for these ops (the wire format of docs/protocol.md). */
async function expectedLine(bucket: string, after: number, count: number, upTo = END): Promise<{ text: string; hasMore: boolean }> {
  const ops = await readOps(db.pool, rulesId, bucket, after, upTo, count);
  const next = ops.length > 0 ? ops[ops.length - 1]!.opId : after;
  const hasMore = (await readOps(db.pool, rulesId, bucket, next, upTo, 1)).length > 0;
  const line = {
    type: 'data',
    bucket,
    after: String(after),
    next_after: String(next),
    has_more: hasMore,
    ops: ops.map((o) => ({ op_id: String(o.opId), op: o.op, table: o.table, row_id: o.rowId, data: o.data, checksum: o.checksum })),
  };
  return { text: `${JSON.stringify(line)}\n`, hasMore };
}

/** Every page of the bucket through readDataLine, each compared byte for byte with the expected line and its bounds checked. */
async function readAll(bucket: string, maxOps: number, maxBytes: number, upTo = END) {
  const pages: Array<{ count: number; bytes: number[] }> = [];
  let after = 0;
  for (;;) {
    const page = await readDataLine(db.pool, rulesId, bucket, after, upTo, { maxOps, maxBytes });
    const expected = await expectedLine(bucket, after, page.count, upTo);
    expect(page.line.toString('utf8')).toBe(expected.text);
    expect(page.hasMore).toBe(expected.hasMore);
    const line = dataLineSchema.parse(JSON.parse(page.line.toString('utf8')));
    const bytes = line.ops.map((o) => (o.data === null ? 0 : Buffer.byteLength(o.data)));
    if (page.count === 0) {
      expect(page.hasMore).toBe(false);
      expect(page.nextAfter).toBe(after);
      break;
    }
    // Within both bounds: the op crossing the byte bound is the last one, and the first op always comes.
    expect(page.count).toBeLessThanOrEqual(maxOps);
    expect(bytes.slice(0, -1).reduce((a, b) => a + b, 0)).toBeLessThan(Math.max(maxBytes, 1));
    // And no shorter than the bounds make it.
    if (page.hasMore) expect(page.count === maxOps || bytes.reduce((a, b) => a + b, 0) >= maxBytes).toBe(true);
    expect(page.nextAfter).toBe(Number(line.next_after));
    pages.push({ count: page.count, bytes });
    after = page.nextAfter;
    if (!page.hasMore) break;
  }
  return pages;
}

const text = fc.string({ unit: 'binary', maxLength: 60 }).map((s) => s.replaceAll('\u0000', '').replace(/[\ud800-\udfff]/g, ''));

describe('readDataLine: data lines straight from COPY bytes', () => {
  it('encodes any stored text exactly as JSON.stringify does, page by page (property)', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(text, text, fc.boolean()), { minLength: 1, maxLength: 25 }),
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 0, max: 400 }),
        async (rows, maxOps, maxBytes) => {
          const bucket = `p["${n++}"]`;
          await write(
            bucket,
            rows.map(([id, value, put], i) => ({ rowId: `${id}-${i}`, ...(put ? { op: 'PUT' as const, data: i % 2 === 0 ? JSON.stringify({ v: value, list: [value, i] }) : value } : { op: 'REMOVE' as const, data: null }) })),
          );
          const pages = await readAll(bucket, maxOps, maxBytes);
          expect(pages.reduce((a, p) => a + p.count, 0)).toBe(rows.length);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('escapes what JSON and COPY text both treat specially: quotes, backslashes, control characters, \\N, tabs, newlines, non-ASCII', async () => {
    const nasty = ['"', '\\', '\\N', '\t', '\r\n', '\b\f\u0001\u001f\u007f', 'é中😀', '\u2028\u2029', "'; DROP TABLE x; --", 'null', ''];
    await write('nasty', [
      ...nasty.map((s, i) => ({ rowId: `${s}|${i}`, op: 'PUT' as const, data: s })),
      ...nasty.map((s, i) => ({ rowId: `j${i}`, op: 'PUT' as const, data: JSON.stringify({ [s]: s, list: [s, 1, null] }) })),
      { rowId: 'gone', op: 'REMOVE' as const, data: null },
    ]);
    const pages = await readAll('nasty', 1000, 1 << 20);
    expect(pages).toHaveLength(1);
    const page = await readDataLine(db.pool, rulesId, 'nasty', 0, END, { maxOps: 1000, maxBytes: 1 << 20 });
    const ops = dataLineSchema.parse(JSON.parse(page.line.toString('utf8'))).ops;
    expect(ops.slice(0, nasty.length).map((o) => o.data)).toEqual(nasty);
    expect(ops.at(-1)).toMatchObject({ op: 'REMOVE', row_id: 'gone', data: null });
  });

  it('quotes the bucket name in the query and the line, whatever it holds', async () => {
    const bucket = `list["it's \\"odd\\" \\\\ ' OR 1=1; --"]`;
    await write(bucket, [{ rowId: 'a', op: 'PUT', data: '{}' }]);
    await write('other', [{ rowId: 'b', op: 'PUT', data: '{}' }]);
    const pages = await readAll(bucket, 10, 1000);
    expect(pages).toEqual([{ count: 1, bytes: [2] }]);
  });

  it('bounds pages by op count and by data bytes; a row larger than the bound comes alone', async () => {
    const row = JSON.stringify({ big: 'x'.repeat(990) }); // 1,001 bytes
    await write('bounded', Array.from({ length: 50 }, (_, i) => ({ rowId: `r${i}`, op: 'PUT' as const, data: row })));
    expect((await readAll('bounded', 20, 1 << 20)).map((p) => p.count)).toEqual([20, 20, 10]);
    // 4,000 bytes: the 4th row crosses the bound and ends the page.
    expect((await readAll('bounded', 1000, 4000)).map((p) => p.count)).toEqual([...Array(12).fill(4), 2]);
    expect((await readAll('bounded', 1000, 4005)).map((p) => p.count)).toEqual(Array(10).fill(5));
    expect((await readAll('bounded', 1000, 10)).map((p) => p.count)).toEqual(Array(50).fill(1));
    expect((await readAll('bounded', 1000, 0)).map((p) => p.count)).toEqual(Array(50).fill(1));
    // A range that ends exactly at a page's end: no more after it.
    const [first] = await readOps(db.pool, rulesId, 'bounded', 0, END, 1);
    const upTo = first!.opId + 19;
    expect((await readAll('bounded', 20, 1 << 20, upTo)).map((p) => p.count)).toEqual([20]);
  });

  it('sends a multi-megabyte row whole, escaped, in a line of its own', async () => {
    const chunk = `"quoted" \\ back\nslash\t${'é'.repeat(10)}`;
    const huge = JSON.stringify({ text: chunk.repeat(Math.ceil((3 << 20) / chunk.length)) });
    await write('huge', [
      { rowId: 'small', op: 'PUT', data: '{"a":1}' },
      { rowId: 'huge', op: 'PUT', data: huge },
      { rowId: 'after', op: 'PUT', data: '{"b":2}' },
    ]);
    const pages = await readAll('huge', 1000, 1 << 20);
    expect(pages.map((p) => p.count)).toEqual([2, 1]);
    expect(pages[0]!.bytes[1]).toBe(Buffer.byteLength(huge));
  });

  it('encodes a page that escapes to far more than its data size (the line grows past the room reserved for it)', async () => {
    const controls = '\u0001\u001f"\\'.repeat(500);
    await write('escapes', Array.from({ length: 30 }, (_, i) => ({ rowId: `e${i}`, op: 'PUT' as const, data: i % 3 === 0 ? controls : JSON.stringify({ v: controls }) })));
    const pages = await readAll('escapes', 1000, 1 << 20);
    expect(pages.map((p) => p.count)).toEqual([30]);
  });

  it('gives an empty line for an empty range', async () => {
    const page = await readDataLine(db.pool, rulesId, 'no-such-bucket', 7, 100, { maxOps: 10, maxBytes: 100 });
    expect(page).toMatchObject({ count: 0, nextAfter: 7, hasMore: false });
    expect(page.line.toString()).toBe('{"type":"data","bucket":"no-such-bucket","after":"7","next_after":"7","has_more":false,"ops":[]}\n');
  });

  it('reads the same pages as readOpsPage, as strings', async () => {
    let after = 0;
    for (;;) {
      const [lines, strings] = await Promise.all([
        readDataLine(db.pool, rulesId, 'bounded', after, END, { maxOps: 7, maxBytes: 3000 }),
        readOpsPage(db.pool, rulesId, 'bounded', after, END, { maxOps: 7, maxBytes: 3000 }),
      ]);
      expect(lines.count).toBe(strings.ops.length);
      expect(lines.hasMore).toBe(strings.hasMore);
      expect(JSON.parse(lines.line.toString()).ops.map((o: { op_id: string }) => o.op_id)).toEqual(strings.ops.map((o) => o[0]));
      if (!lines.hasMore) break;
      after = lines.nextAfter;
    }
  });

  it('reads a page whose ops were compacted away after its bounds were read: fewer ops, or the page after them', async () => {
    const row = JSON.stringify({ v: 'x'.repeat(100) });
    await write('compacted', Array.from({ length: 20 }, (_, i) => ({ rowId: `r${i}`, op: 'PUT' as const, data: row })));
    const ids = (await readOps(db.pool, rulesId, 'compacted', 0, END, 100)).map((o) => o.opId);
    /** A pool whose client runs `between` after the page's first statement (its bounds) and before the second. */
    const racing = (between: () => Promise<unknown>): Pick<pg.Pool, 'connect'> => ({
      async connect() {
        const client = await db.pool.connect();
        const query = client.query.bind(client) as (q: unknown) => unknown;
        let n = 0;
        return Object.assign(Object.create(client) as pg.PoolClient, {
          query(q: unknown) {
            if (n++ !== 1) return query(q);
            void between().then(() => query(q));
            return q;
          },
          release: (e?: Error | boolean) => client.release(e),
        });
      },
    });
    const remove = (from: number, to: number) => db.pool.query('DELETE FROM lockstep.ops WHERE rules_id = $1 AND bucket = $2 AND op_id >= $3 AND op_id <= $4', [rulesId, 'compacted', from, to]);
    // The page's last two ops go: it ends early, and the next page starts after its new end.
    const shorter = await readDataLine(racing(() => remove(ids[3]!, ids[4]!)), rulesId, 'compacted', 0, END, { maxOps: 5, maxBytes: 1 << 20 });
    expect(shorter).toMatchObject({ count: 3, nextAfter: ids[2], hasMore: true });
    // Every op of the page goes: the page is the next one instead, never an empty page that says more follow.
    const next = await readDataLine(racing(() => remove(ids[5]!, ids[9]!)), rulesId, 'compacted', ids[2]!, END, { maxOps: 5, maxBytes: 1 << 20 });
    expect(next).toMatchObject({ count: 5, nextAfter: ids[14], hasMore: true });
    expect(JSON.parse(next.line.toString()).ops.map((o: { op_id: string }) => Number(o.op_id))).toEqual(ids.slice(10, 15));
    const expected = await expectedLine('compacted', ids[2]!, 5);
    expect(next.line.toString()).toBe(expected.text);
  });

  it('reads pages whose bounds were read ahead with an earlier page, after their ops were compacted away', async () => {
    await write('ahead', Array.from({ length: 30 }, (_, i) => ({ rowId: `r${i}`, op: 'PUT' as const, data: JSON.stringify({ i }) })));
    const ids = (await readOps(db.pool, rulesId, 'ahead', 0, END, 100)).map((o) => o.opId);
    const limits = { maxOps: 5, maxBytes: 1 << 20 };
    // The first page reads the bounds of the pages after it too.
    expect(await readDataLine(db.pool, rulesId, 'ahead', 0, END, limits)).toMatchObject({ count: 5, nextAfter: ids[4], hasMore: true });
    await db.pool.query('DELETE FROM lockstep.ops WHERE rules_id = $1 AND bucket = $2 AND op_id >= $3 AND op_id <= $4', [rulesId, 'ahead', ids[5], ids[9]]);
    await db.pool.query("UPDATE lockstep.ops SET op = 'MOVE', table_name = NULL, row_id = NULL, data = NULL WHERE rules_id = $1 AND bucket = $2 AND op_id = $3", [rulesId, 'ahead', ids[17]]);
    // The second page's bounds, read before, cover ops that are gone: it is the page after them.
    const next = await readDataLine(db.pool, rulesId, 'ahead', ids[4]!, END, limits);
    expect(next).toMatchObject({ count: 5, nextAfter: ids[14], hasMore: true });
    expect(next.line.toString()).toBe((await expectedLine('ahead', ids[4]!, 5)).text);
    // A page with an op that lost its data since: byte for byte as a fresh read makes it.
    const third = await readDataLine(db.pool, rulesId, 'ahead', ids[14]!, END, limits);
    expect(third.line.toString()).toBe((await expectedLine('ahead', ids[14]!, 5)).text);
    expect((await readAll('ahead', limits.maxOps, limits.maxBytes)).map((p) => p.count)).toEqual([5, 5, 5, 5, 5]);
  });

  it('rejects bounds and positions that are not integers in range, before any query', async () => {
    for (const [after, limits] of [
      [1.5, { maxOps: 10, maxBytes: 10 }],
      [-1, { maxOps: 10, maxBytes: 10 }],
      [0, { maxOps: 0, maxBytes: 10 }],
      [0, { maxOps: 10, maxBytes: Number.NaN }],
    ] as const) {
      await expect(readDataLine(db.pool, rulesId, 'bounded', after, END, limits)).rejects.toMatchObject({ code: PAGE_INVALID_ERROR });
    }
  });
});

describe('copyOutBinary', () => {
  it('returns its client to the pool after a failed query and after a callback that throws', async () => {
    const pool = new pg.Pool({ connectionString: db.url, max: 1 });
    try {
      await expect(copyOutBinary(pool, 'SELECT 1 / 0', 1, () => {})).rejects.toMatchObject({ code: '22012' });
      const thrown = new Error('callback failed');
      await expect(
        copyOutBinary(pool, 'SELECT g::text FROM generate_series(1, 50000) g', 1, () => {
          throw thrown;
        }),
      ).rejects.toBe(thrown);
      let rows = 0;
      expect(await copyOutBinary(pool, 'SELECT g::text, NULL::text FROM generate_series(1, 3) g', 2, () => rows++)).toBe(3);
      expect(rows).toBe(3);
      expect((await pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    } finally {
      await pool.end();
    }
  });

  it('copyOutBytes hands on the COPY bytes as they are, and leaves the connection usable after an error', async () => {
    const pool = new pg.Pool({ connectionString: db.url, max: 1 });
    try {
      const pieces: Buffer[] = [];
      const bytes = await copyOutBytes(pool, "SELECT g, 'a\\b' FROM generate_series(1, 3000) g", 'text', (chunk, from, to) => pieces.push(Buffer.from(chunk.subarray(from, to))));
      const expected = Array.from({ length: 3000 }, (_, i) => `${i + 1}\ta\\\\b\n`).join('');
      expect(Buffer.concat(pieces).toString('utf8')).toBe(expected);
      expect(bytes).toBe(Buffer.byteLength(expected));
      let binary = 0;
      // Header (19 bytes), per row a field count and one length-prefixed text value, the trailer (2).
      expect(await copyOutBytes(pool, "SELECT 'xy'::text FROM generate_series(1, 10)", 'binary', (_chunk, from, to) => (binary += to - from))).toBe(19 + 10 * (2 + 4 + 2) + 2);
      expect(binary).toBe(19 + 10 * 8 + 2);
      await expect(copyOutBytes(pool, 'SELECT 1 / 0', 'binary', () => {})).rejects.toMatchObject({ code: '22012' });
      expect((await pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    } finally {
      await pool.end();
    }
  });
});
