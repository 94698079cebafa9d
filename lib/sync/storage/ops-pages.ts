import pg from 'pg';
import { StorageError } from '@/lib/sync/errors';
import { copyOutBinaryOn, withCopyClient, type CopyRow } from './copy-out';

/** Byte-bounded op pages of one bucket, read for the sync stream (lib/sync/server). */

/**
 * One op of a page as stored, in the order of the protocol's op fields: op id and checksum as
 * decimal text (so neither goes through a JS number), data as the stored JSON text.
 */
export type OpRow = [opId: string, op: string, table: string | null, rowId: string | null, data: string | null, checksum: string];

/** A page of a bucket's ops, as readOpsPage returns it. */
export interface OpsPage {
  /** The ops in op id order; empty when the range holds none. */
  ops: OpRow[];
  /** More ops of the bucket follow in (last op id, upToOpId]. */
  hasMore: boolean;
}

export interface PageLimits {
  /** Most ops in the page. */
  maxOps: number;
  /**
   * Data bytes (UTF-8) after which the page stops: the op crossing it is the last one, and the
   * first op is always included, so a page holds at most maxBytes plus one op's data.
   */
  maxBytes: number;
}

/** What streamOpsPage read, once the page's ops have been handed over. */
export interface OpsPageEnd {
  /** Ops handed to the callback. */
  count: number;
  /** The op id of the last of them; null when the range holds none. */
  lastOpId: number | null;
  /** More ops of the bucket follow in (lastOpId, upToOpId]. */
  hasMore: boolean;
}

/**
 * Where each field of an op is in the rows streamOpsPage hands over: the OpRow order. Each is
 * the stored text as UTF-8 (op id and checksum in decimal), or NULL.
 */
export const OpField = { opId: 0, op: 1, table: 2, rowId: 3, data: 4, checksum: 5 } as const;

/** The page's fields: the six op fields. */
const FIELDS = 6;

/** Code of the StorageError thrown for a page asked with bounds or positions that are not integers in range. */
export const PAGE_INVALID_ERROR = 'STORAGE_PAGE_INVALID';

function assertInteger(what: string, value: number, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) throw new StorageError(PAGE_INVALID_ERROR, `An op page's ${what} must be an integer >= ${min}; got ${String(value)}.`);
}

function assertPage(rulesId: number, afterOpId: number, upToOpId: number, limits: PageLimits): void {
  assertInteger('rulesId', rulesId, 0);
  assertInteger('afterOpId', afterOpId, 0);
  assertInteger('upToOpId', upToOpId, 0);
  assertInteger('maxOps', limits.maxOps, 1);
  assertInteger('maxBytes', limits.maxBytes, 0);
}

/**
 * The pages' bounds: op id and data size (octet_length, which reads a TOASTed value's header
 * without fetching it) of the range's first ops, no data. Pages are cut from these in JS, so that
 * the query that reads the data is a plain index range scan: computing the bounds in the same
 * query (a running sum over a window) made Postgres hold every row of the page, data included, in
 * the window's store, which cost it about as much again as reading the rows (bench/stream.ts).
 * The queries run as COPY, which takes no bind parameters, so the values are inlined: numbers
 * checked to be integers, the bucket quoted as a literal.
 */
function boundsQuery(rulesId: number, bucket: string, afterOpId: number, upToOpId: number, limit: number): string {
  return `SELECT op_id, octet_length(data) FROM lockstep.ops
           WHERE rules_id = ${rulesId} AND bucket = ${pg.escapeLiteral(bucket)} AND op_id > ${afterOpId} AND op_id <= ${upToOpId}
           ORDER BY op_id LIMIT ${limit}`;
}

/** The ops of (afterOpId, lastOpId]: what boundsQuery found to fit in the page. */
function opsQuery(rulesId: number, bucket: string, afterOpId: number, lastOpId: number, maxOps: number): string {
  // Ordered by o.op_id, the bigint: a bare op_id would name the text output column.
  return `SELECT o.op_id::text, o.op, o.table_name, o.row_id, o.data, o.checksum::text FROM lockstep.ops o
           WHERE o.rules_id = ${rulesId} AND o.bucket = ${pg.escapeLiteral(bucket)} AND o.op_id > ${afterOpId} AND o.op_id <= ${lastOpId}
           ORDER BY o.op_id LIMIT ${maxOps}`;
}

/** Where a page ends: its last op id, its op count and data bytes, and whether ops follow it in the range. */
interface PageBounds {
  lastOpId: number;
  ops: number;
  dataBytes: number;
  hasMore: boolean;
}

/**
 * Pages whose bounds are read at once: a bucket's pages come one after another, and each
 * statement costs a round trip and a wake-up of the Postgres backend on top of its rows.
 */
const BOUNDS_AHEAD = 8;
/** Bounds of pages read ahead, per pool (one bucket storage), by range and start; bounded, oldest dropped first. */
const boundsAhead = new WeakMap<object, Map<string, PageBounds>>();
const MAX_BOUNDS_AHEAD = 4096;

function aheadKey(rulesId: number, bucket: string, afterOpId: number, upToOpId: number, limits: PageLimits): string {
  return `${rulesId}\u0000${bucket}\u0000${afterOpId}\u0000${upToOpId}\u0000${limits.maxOps}\u0000${limits.maxBytes}`;
}

/**
 * The bounds of the page of (afterOpId, upToOpId]: its last op id within both bounds (the first op
 * always is), and whether ops follow it in the range; null when the range holds none. Read with
 * those of the next BOUNDS_AHEAD - 1 pages, which the pages that follow take from boundsAhead.
 * Bounds read earlier stay true: the ops of a range already in a checkpoint only ever leave it or
 * lose their data (compaction), so a page read later holds at most what they measured.
 */
async function pageBounds(pool: object, client: pg.PoolClient, rulesId: number, bucket: string, afterOpId: number, upToOpId: number, limits: PageLimits): Promise<PageBounds | null> {
  let ahead = boundsAhead.get(pool);
  if (!ahead) boundsAhead.set(pool, (ahead = new Map()));
  const key = aheadKey(rulesId, bucket, afterOpId, upToOpId, limits);
  const known = ahead.get(key);
  if (known) {
    ahead.delete(key);
    return known;
  }
  const { maxOps, maxBytes } = limits;
  const limit = BOUNDS_AHEAD * maxOps + 1;
  const pages: PageBounds[] = [];
  let page: PageBounds = { lastOpId: 0, ops: 0, dataBytes: 0, hasMore: false };
  let rows = 0;
  await copyOutBinaryOn(client, boundsQuery(rulesId, bucket, afterOpId, upToOpId, limit), 2, ({ bytes, start }) => {
    rows++;
    // Op k is in the page when k <= maxOps and the data of the ops before it stays under maxBytes (or k = 1).
    if (page.ops > 0 && (page.ops >= maxOps || page.dataBytes >= maxBytes)) {
      page.hasMore = true;
      pages.push(page);
      page = { lastOpId: 0, ops: 0, dataBytes: 0, hasMore: false };
    }
    // An int8 (op ids are safe integers) and an int4 or NULL, big-endian.
    const at = start[0]!;
    page.lastOpId = bytes.readUInt32BE(at) * 2 ** 32 + bytes.readUInt32BE(at + 4);
    if (start[1]! >= 0) page.dataBytes += bytes.readInt32BE(start[1]!);
    page.ops++;
  });
  // Fewer rows than the limit: the range ends with the page being cut. Otherwise that page may go on past the rows read.
  if (rows < limit && page.ops > 0) pages.push(page);
  for (let i = 1; i < pages.length; i++) ahead.set(aheadKey(rulesId, bucket, pages[i - 1]!.lastOpId, upToOpId, limits), pages[i]!);
  for (const old of ahead.keys()) {
    if (ahead.size <= MAX_BOUNDS_AHEAD) break;
    ahead.delete(old);
  }
  return pages[0] ?? null;
}

/**
 * A page of a bucket's ops with afterOpId < op_id <= upToOpId in op id order, bounded by op count
 * and by data size, so the memory a page takes does not depend on how large the rows are (the
 * first op is always included). Each op is handed to `onOp` as the bytes Postgres sent (binary
 * COPY), as it arrives: the stream encodes its data lines from them
 * (lib/sync/server/stream/data-line.ts) without a JS string per value. The row is valid only
 * during the call; fields are at OpField.
 *
 * Two statements on one connection: the bounds (read for several pages at once, see
 * pageBounds), then the ops up to the last that fits. Ops only ever leave the range or lose their
 * data between the two (compaction; new ops come after upToOpId), so the second reads at most
 * what the first measured; should it find none left, the page continues past them. `onBounds`, if given, hears the page's op count and data bytes as
 * measured, before its ops (an upper bound of what comes: room can be made for them at once).
 *
 * @example
 *   const end = await streamOpsPage(pool, rulesId, 'list["1"]', 0, checkpoint.opId, { maxOps: 2000, maxBytes: 1 << 20 }, (row) => {
 *     const data = row.start[OpField.data] < 0 ? null : row.bytes.subarray(row.start[OpField.data], row.end[OpField.data]);
 *   });
 */
export async function streamOpsPage(pool: Pick<pg.Pool, 'connect'>, rulesId: number, bucket: string, afterOpId: number, upToOpId: number, limits: PageLimits, onOp: (row: CopyRow) => void, onBounds?: (ops: number, dataBytes: number) => void): Promise<OpsPageEnd> {
  assertPage(rulesId, afterOpId, upToOpId, limits);
  let count = 0;
  let lastOpId: number | null = null;
  let hasMore = false;
  await withCopyClient(pool, async (client) => {
    for (let after = afterOpId; count === 0; ) {
      const bounds = await pageBounds(pool, client, rulesId, bucket, after, upToOpId, limits);
      if (bounds === null) {
        hasMore = false;
        return;
      }
      hasMore = bounds.hasMore;
      onBounds?.(bounds.ops, bounds.dataBytes);
      await copyOutBinaryOn(client, opsQuery(rulesId, bucket, after, bounds.lastOpId, limits.maxOps), FIELDS, (row) => {
        const { bytes, start, end } = row;
        let id = 0;
        for (let i = start[OpField.opId]!, e = end[OpField.opId]!; i < e; i++) id = id * 10 + bytes[i]! - 48;
        lastOpId = id;
        count++;
        onOp(row);
      });
      if (!hasMore) return;
      after = bounds.lastOpId;
    }
  });
  return { count, lastOpId, hasMore };
}

/**
 * The same page as streamOpsPage, with each op as an OpRow of strings: for callers that want the
 * values rather than bytes to copy.
 *
 * @example
 *   const page = await readOpsPage(pool, rulesId, 'list["1"]', 0, checkpoint.opId, { maxOps: 2000, maxBytes: 1 << 20 });
 *   for (const [opId, op, table, rowId, data, checksum] of page.ops) ...
 */
export async function readOpsPage(pool: Pick<pg.Pool, 'connect'>, rulesId: number, bucket: string, afterOpId: number, upToOpId: number, limits: PageLimits): Promise<OpsPage> {
  const ops: OpRow[] = [];
  const text = (row: CopyRow, field: number) => (row.start[field]! < 0 ? null : row.bytes.toString('utf8', row.start[field], row.end[field]));
  const { hasMore } = await streamOpsPage(pool, rulesId, bucket, afterOpId, upToOpId, limits, (row) => {
    ops.push([text(row, 0)!, text(row, 1)!, text(row, 2), text(row, 3), text(row, 4), text(row, 5)!]);
  });
  return { ops, hasMore };
}
