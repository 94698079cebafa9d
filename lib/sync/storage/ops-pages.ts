import pg from 'pg';
import { StorageError } from '@/lib/sync/errors';
import { copyOutBinary, type CopyRow } from './copy-out';

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

/** The six op fields, then `inside` (false only on the row that says more ops follow). */
const FIELDS = 7;
const INSIDE = 6;

/** Code of the StorageError thrown for a page asked with bounds or positions that are not integers in range. */
export const PAGE_INVALID_ERROR = 'STORAGE_PAGE_INVALID';

function assertInteger(what: string, value: number, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) throw new StorageError(PAGE_INVALID_ERROR, `An op page's ${what} must be an integer >= ${min}; got ${String(value)}.`);
}

/**
 * The page query. It runs as a COPY, which takes no bind parameters, so the values are inlined:
 * numbers checked to be integers, the bucket quoted as a literal.
 *
 * One pass over the range, one window: sizes come from octet_length, which reads a TOASTed value's
 * header without fetching it. `before`: data bytes of the ops before this one; `inside`: within
 * both bounds (before under maxBytes, or the first op). `reached`: the bytes before the previous
 * op are under maxBytes (before - previous), i.e. the op is inside or the first one past the byte
 * bound (the second op is always reached: the first is always inside); the row past the op count
 * bound comes from LIMIT + 1. The one row reached but not inside comes back without its data, only
 * to say that more follow. (A second window framed up to 2 PRECEDING, for `reached`, cost
 * Postgres more than the rest of the query together.)
 */
function pageQuery(rulesId: number, bucket: string, afterOpId: number, upToOpId: number, limits: PageLimits): string {
  assertInteger('rulesId', rulesId, 0);
  assertInteger('afterOpId', afterOpId, 0);
  assertInteger('upToOpId', upToOpId, 0);
  assertInteger('maxOps', limits.maxOps, 1);
  assertInteger('maxBytes', limits.maxBytes, 0);
  const { maxOps, maxBytes } = limits;
  return `SELECT s.op_id::text, s.op, s.table_name, s.row_id, CASE WHEN s.inside THEN s.data END, s.checksum::text, s.inside
            FROM (SELECT o.*, o.n <= ${maxOps} AND (o.n = 1 OR o.before < ${maxBytes}) AS inside, o.n <= 2 OR o.before - o.previous < ${maxBytes} AS reached
                    FROM (SELECT i.*, row_number() OVER w AS n,
                                 COALESCE(sum(octet_length(i.data)) OVER w, 0) - COALESCE(octet_length(i.data), 0) AS before,
                                 COALESCE(lag(octet_length(i.data)) OVER w, 0) AS previous
                            FROM (SELECT op_id, op, table_name, row_id, data, checksum FROM lockstep.ops
                                   WHERE rules_id = ${rulesId} AND bucket = ${pg.escapeLiteral(bucket)} AND op_id > ${afterOpId} AND op_id <= ${upToOpId}
                                   ORDER BY op_id LIMIT ${maxOps + 1}) i
                          WINDOW w AS (ORDER BY i.op_id ROWS UNBOUNDED PRECEDING)) o) s
           WHERE s.reached
           ORDER BY s.op_id`;
}

/**
 * A page of a bucket's ops with afterOpId < op_id <= upToOpId in op id order, bounded by op count
 * and by data size, so the memory a page takes does not depend on how large the rows are (the
 * first op is always included). Each op is handed to `onOp` as the bytes Postgres sent (binary
 * COPY), as it arrives: the stream encodes its data lines from them
 * (lib/sync/server/stream/data-line.ts) without a JS string per value. The row is valid only
 * during the call; fields are at OpField.
 *
 * @example
 *   const end = await streamOpsPage(pool, rulesId, 'list["1"]', 0, checkpoint.opId, { maxOps: 2000, maxBytes: 1 << 20 }, (row) => {
 *     const data = row.start[OpField.data] < 0 ? null : row.bytes.subarray(row.start[OpField.data], row.end[OpField.data]);
 *   });
 */
export async function streamOpsPage(pool: Pick<pg.Pool, 'connect'>, rulesId: number, bucket: string, afterOpId: number, upToOpId: number, limits: PageLimits, onOp: (row: CopyRow) => void): Promise<OpsPageEnd> {
  let count = 0;
  let lastOpId: number | null = null;
  let hasMore = false;
  await copyOutBinary(pool, pageQuery(rulesId, bucket, afterOpId, upToOpId, limits), FIELDS, (row) => {
    const { bytes, start, end } = row;
    // `inside` is a bool: one byte. Only the last row can be outside; it carries no data.
    if (bytes[start[INSIDE]!] === 0) {
      hasMore = true;
      return;
    }
    let id = 0;
    for (let i = start[OpField.opId]!, e = end[OpField.opId]!; i < e; i++) id = id * 10 + bytes[i]! - 48;
    lastOpId = id;
    count++;
    onOp(row);
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
