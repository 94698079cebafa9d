import { assertLsn, int8 } from './sql';
import type { Queryable, StoredOp } from './types';

/** Reads made for the sync stream (lib/sync/server): byte-bounded op pages, batched write checkpoints. */

/** An op as the stream sends it: the op id stays decimal text, as the wire carries it. */
export interface PagedOp {
  opId: string;
  op: StoredOp['op'];
  table: string | null;
  rowId: string | null;
  data: string | null;
  checksum: number;
}

export interface OpsPage {
  ops: PagedOp[];
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
 * and by data size, so the memory a page takes does not depend on how large the rows are. The
 * sizes come from octet_length, which reads a TOASTed value's header without fetching it.
 *
 * @example
 *   const page = await readOpsPage(pool, rulesId, 'list["1"]', 0, checkpoint.opId, { maxOps: 2000, maxBytes: 1 << 20 });
 */
export async function readOpsPage(db: Queryable, rulesId: number, bucket: string, afterOpId: number, upToOpId: number, limits: PageLimits): Promise<OpsPage> {
  const { rows } = await db.query<{ op_id: string; op: StoredOp['op']; table_name: string | null; row_id: string | null; data: string | null; checksum: string; total: string }>(
    {
      name: 'lockstep_read_ops_page',
      text: `SELECT op_id, op, table_name, row_id, data, checksum, total FROM (
               SELECT o.*, row_number() OVER w AS n, count(*) OVER () AS total,
                      sum(COALESCE(octet_length(o.data), 0)) OVER w - COALESCE(octet_length(o.data), 0) AS start_bytes
                 FROM (SELECT op_id, op, table_name, row_id, data, checksum FROM lockstep.ops
                        WHERE rules_id = $1 AND bucket = $2 AND op_id > $3 AND op_id <= $4
                        ORDER BY op_id LIMIT $5::int + 1) o
               WINDOW w AS (ORDER BY o.op_id ROWS UNBOUNDED PRECEDING)
             ) page
             WHERE n <= $5 AND (n = 1 OR start_bytes < $6)
             ORDER BY op_id`,
      values: [rulesId, bucket, afterOpId, upToOpId, limits.maxOps, limits.maxBytes],
    },
  );
  const ops = new Array<PagedOp>(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    ops[i] = { opId: r.op_id, op: r.op, table: r.table_name, rowId: r.row_id, data: r.data, checksum: Number(r.checksum) };
  }
  return { ops, hasMore: rows.length > 0 && rows.length < int8(rows[0]!.total) };
}

/** A client's key in writeCheckpointsFor's answer. */
export function clientKey(userId: string, clientId: string): string {
  return `${userId}\u0000${clientId}`;
}

/**
 * writeCheckpointFor for many clients in one query: for each (user, client), the highest write
 * checkpoint id whose LSN is at or before `uptoLsn`. Clients without one are absent from the map,
 * which is keyed by clientKey(userId, clientId).
 *
 * @example
 *   const ids = await writeCheckpointsFor(pool, [{ userId: 'u1', clientId: 'c1' }], checkpoint.lsn);
 *   ids.get(clientKey('u1', 'c1')); // 42, or undefined
 */
export async function writeCheckpointsFor(db: Queryable, clients: ReadonlyArray<{ userId: string; clientId: string }>, uptoLsn: string): Promise<Map<string, number>> {
  if (clients.length === 0) return new Map();
  const { rows } = await db.query<{ user_id: string; client_id: string; id: string }>(
    {
      name: 'lockstep_write_checkpoints_for',
      text: `SELECT c.user_id, c.client_id, w.id
               FROM unnest($1::text[], $2::text[]) AS c(user_id, client_id)
               CROSS JOIN LATERAL (SELECT max(id) AS id FROM lockstep.write_checkpoints w
                                    WHERE w.user_id = c.user_id AND w.client_id = c.client_id AND w.lsn <= $3::pg_lsn) w
              WHERE w.id IS NOT NULL`,
      values: [clients.map((c) => c.userId), clients.map((c) => c.clientId), assertLsn(uptoLsn)],
    },
  );
  return new Map(rows.map((r) => [clientKey(r.user_id, r.client_id), int8(r.id)]));
}
