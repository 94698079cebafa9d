import type { Queryable } from './types';

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

/**
 * A page of a bucket's ops with afterOpId < op_id <= upToOpId in op id order, bounded by op count
 * and by data size, so the memory a page takes does not depend on how large the rows are. One
 * pass over the range: sizes come from octet_length, which reads a TOASTed value's header without
 * fetching it, and the first op past the bounds comes back without its data, only to say that
 * more follow. Rows come as arrays of text (no per-row objects); the stream encodes them itself
 * (lib/sync/server/stream/encode.ts), which costs far less than building the JSON in SQL.
 *
 * @example
 *   const page = await readOpsPage(pool, rulesId, 'list["1"]', 0, checkpoint.opId, { maxOps: 2000, maxBytes: 1 << 20 });
 *   for (const [opId, op, table, rowId, data, checksum] of page.ops) ...
 */
export async function readOpsPage(db: Queryable, rulesId: number, bucket: string, afterOpId: number, upToOpId: number, limits: PageLimits): Promise<OpsPage> {
  const { rows } = await db.query<[string, string, string | null, string | null, string | null, string, boolean]>({
    name: 'lockstep_read_ops_page',
    // `inside`: within both bounds (bytes before the op under maxBytes, or the first op).
    // `reached`: the bytes before the previous op are under maxBytes, i.e. the op is inside or
    // the first one past the byte bound; the row past the op count bound comes from LIMIT + 1.
    text: `SELECT s.op_id::text AS id, s.op, s.table_name, s.row_id, CASE WHEN s.inside THEN s.data END AS data, s.checksum::text AS sum, s.inside
             FROM (SELECT o.op_id, o.op, o.table_name, o.row_id, o.data, o.checksum,
                          row_number() OVER w <= $5 AND (row_number() OVER w = 1 OR COALESCE(sum(octet_length(o.data)) OVER w, 0) - COALESCE(octet_length(o.data), 0) < $6) AS inside,
                          COALESCE(sum(octet_length(o.data)) OVER before_previous, 0) < $6 AS reached
                     FROM (SELECT op_id, op, table_name, row_id, data, checksum FROM lockstep.ops
                            WHERE rules_id = $1 AND bucket = $2 AND op_id > $3 AND op_id <= $4
                            ORDER BY op_id LIMIT $5::int + 1) o
                   WINDOW w AS (ORDER BY o.op_id ROWS UNBOUNDED PRECEDING),
                          before_previous AS (ORDER BY o.op_id ROWS BETWEEN UNBOUNDED PRECEDING AND 2 PRECEDING)) s
            WHERE s.reached
            ORDER BY s.op_id`,
    values: [rulesId, bucket, afterOpId, upToOpId, limits.maxOps, limits.maxBytes],
    rowMode: 'array',
  });
  let hasMore = false;
  const last = rows[rows.length - 1];
  if (last && !last[6]) {
    rows.pop();
    hasMore = true;
  }
  for (const row of rows as unknown[][]) row.length = 6;
  return { ops: rows as unknown as OpRow[], hasMore };
}
