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
 * The page's bounds: op id and data size (octet_length, which reads a TOASTed value's header
 * without fetching it) of the first maxOps + 1 ops of the range, no data. Pages are cut from
 * these in JS, so that the query that reads the data is a plain index range scan: computing the
 * bounds in the same query (a running sum over a window) made Postgres hold every row of the
 * page, data included, in the window's store, which cost it about as much again as reading the
 * rows (bench/stream.ts). The queries run as COPY, which takes no bind parameters, so the values
 * are inlined: numbers checked to be integers, the bucket quoted as a literal.
 */
function boundsQuery(rulesId: number, bucket: string, afterOpId: number, upToOpId: number, maxOps: number): string {
  return `SELECT op_id, octet_length(data) FROM lockstep.ops
           WHERE rules_id = ${rulesId} AND bucket = ${pg.escapeLiteral(bucket)} AND op_id > ${afterOpId} AND op_id <= ${upToOpId}
           ORDER BY op_id LIMIT ${maxOps + 1}`;
}

/** The ops of (afterOpId, lastOpId]: what boundsQuery found to fit in the page. */
function opsQuery(rulesId: number, bucket: string, afterOpId: number, lastOpId: number, maxOps: number): string {
  // Ordered by o.op_id, the bigint: a bare op_id would name the text output column.
  return `SELECT o.op_id::text, o.op, o.table_name, o.row_id, o.data, o.checksum::text FROM lockstep.ops o
           WHERE o.rules_id = ${rulesId} AND o.bucket = ${pg.escapeLiteral(bucket)} AND o.op_id > ${afterOpId} AND o.op_id <= ${lastOpId}
           ORDER BY o.op_id LIMIT ${maxOps}`;
}

/**
 * Where the page of (afterOpId, upToOpId] ends: the last op id within both bounds (the first op
 * always is), and whether ops follow it in the range; null when the range holds none.
 */
async function pageBounds(client: pg.PoolClient, rulesId: number, bucket: string, afterOpId: number, upToOpId: number, limits: PageLimits): Promise<{ lastOpId: number; hasMore: boolean; ops: number; dataBytes: number } | null> {
  const { maxOps, maxBytes } = limits;
  let ops = 0;
  let bytes = 0;
  let lastOpId = 0;
  let hasMore = false;
  await copyOutBinaryOn(client, boundsQuery(rulesId, bucket, afterOpId, upToOpId, maxOps), 2, ({ bytes: b, start }) => {
    if (hasMore) return;
    // Op k is in the page when k <= maxOps and the data of the ops before it stays under maxBytes (or k = 1).
    if (ops > 0 && (ops >= maxOps || bytes >= maxBytes)) {
      hasMore = true;
      return;
    }
    // An int8 (op ids are safe integers) and an int4 or NULL, big-endian.
    const at = start[0]!;
    lastOpId = b.readUInt32BE(at) * 2 ** 32 + b.readUInt32BE(at + 4);
    if (start[1]! >= 0) bytes += b.readInt32BE(start[1]!);
    ops++;
  });
  return ops === 0 ? null : { lastOpId, hasMore, ops, dataBytes: bytes };
}

/**
 * A page of a bucket's ops with afterOpId < op_id <= upToOpId in op id order, bounded by op count
 * and by data size, so the memory a page takes does not depend on how large the rows are (the
 * first op is always included). Each op is handed to `onOp` as the bytes Postgres sent (binary
 * COPY), as it arrives: the stream encodes its data lines from them
 * (lib/sync/server/stream/data-line.ts) without a JS string per value. The row is valid only
 * during the call; fields are at OpField.
 *
 * Two statements on one connection: the bounds, then the ops up to the last that fits. Ops only
 * ever leave the range or lose their data between the two (compaction; new ops come after
 * upToOpId), so the second reads at most what the first measured; should it find none left, the
 * page continues past them. `onBounds`, if given, hears the page's op count and data bytes as
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
      const bounds = await pageBounds(client, rulesId, bucket, after, upToOpId, limits);
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
