import { subtractChecksums } from '@/lib/sync/protocol/checksum';
import { assertLsn, int8 } from './sql';
import type { BucketState, Queryable } from './types';

/** Reads made for the sync stream (lib/sync/server): byte-bounded op pages, per-round bucket states, parameter lookups and write checkpoints. */

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

const EMPTY_STATE: BucketState = { checksum: 0, count: 0, lastOpId: 0, compactedOpId: 0 };

/**
 * Bucket states exactly as of checkpoint `upToOpId`, for the stream's per-checkpoint round: of
 * `buckets`, only those with ops after `sinceOpId` (one index probe per bucket; unchanged ones are
 * not returned), plus every bucket of `include` whatever its state (buckets a user just gained;
 * zeros when it has no ops). Ops past the checkpoint (a source transaction still being written) are
 * subtracted, as checkpointState does; one statement, so one snapshot.
 *
 * @example
 *   const changed = await bucketStatesAt(pool, rulesId, held, checkpoint.opId, previous.opId, []);
 */
export async function bucketStatesAt(db: Queryable, rulesId: number, buckets: readonly string[], upToOpId: number, sinceOpId: number, include: readonly string[]): Promise<Map<string, BucketState>> {
  const { rows } = await db.query<{ bucket: string; checksum: string; op_count: string; last_op_id: string; compacted_op_id: string; later_checksum: string | null; later_count: string | null; last_at_checkpoint: string | null }>(
    {
      name: 'lockstep_bucket_states_at',
      text: `SELECT s.bucket, s.checksum, s.op_count, s.last_op_id, s.compacted_op_id,
                    CASE WHEN s.last_op_id > $3 THEN (SELECT sum(o.checksum) % 4294967296 FROM lockstep.ops o WHERE o.rules_id = $1 AND o.bucket = s.bucket AND o.op_id > $3) END AS later_checksum,
                    CASE WHEN s.last_op_id > $3 THEN (SELECT count(*) FROM lockstep.ops o WHERE o.rules_id = $1 AND o.bucket = s.bucket AND o.op_id > $3) END AS later_count,
                    CASE WHEN s.last_op_id > $3 THEN (SELECT max(o.op_id) FROM lockstep.ops o WHERE o.rules_id = $1 AND o.bucket = s.bucket AND o.op_id <= $3) END AS last_at_checkpoint
               FROM (SELECT DISTINCT value COLLATE "C" AS bucket FROM jsonb_array_elements_text($2::jsonb)) b
               JOIN lockstep.bucket_state s ON s.rules_id = $1 AND s.bucket = b.bucket
              WHERE s.last_op_id > $4 OR s.bucket = ANY(ARRAY(SELECT jsonb_array_elements_text($5::jsonb)))`,
      values: [rulesId, JSON.stringify([...buckets, ...include]), upToOpId, sinceOpId, JSON.stringify(include)],
    },
  );
  const wanted = new Set(include);
  const states = new Map<string, BucketState>();
  for (const r of rows) {
    const ahead = r.later_count !== null;
    const state: BucketState = {
      checksum: ahead ? subtractChecksums(int8(r.checksum), int8(r.later_checksum)) : int8(r.checksum),
      count: int8(r.op_count) - int8(r.later_count),
      lastOpId: ahead ? int8(r.last_at_checkpoint) : int8(r.last_op_id),
      compactedOpId: int8(r.compacted_op_id),
    };
    if (state.lastOpId > sinceOpId || wanted.has(r.bucket)) states.set(r.bucket, state);
  }
  for (const bucket of include) if (!states.has(bucket)) states.set(bucket, EMPTY_STATE);
  return states;
}

/** A parameter lookup's tuples, and their stored text (the signature), to tell later whether they changed. */
export interface LookupValues {
  values: string[][];
  /** The source rows' parameter_values as stored, in row order, joined by ','; '' when none. */
  signature: string;
}

/**
 * Parameter lookups that changed: for each key whose current signature differs from the `known`
 * one (null: unknown, always returned), its tuples and new signature. The comparison runs in
 * Postgres, so a round over a thousand streams' lookups costs one join and sends back only the
 * keys that changed (usually none); only those are parsed.
 *
 * @example
 *   const all = await lookupsChangedSince(pool, rulesId, new Map([[key, null]]));
 *   const later = await lookupsChangedSince(pool, rulesId, new Map([[key, all.get(key)!.signature]])); // empty if unchanged
 */
export async function lookupsChangedSince(db: Queryable, rulesId: number, known: ReadonlyMap<string, string | null>): Promise<Map<string, LookupValues>> {
  if (known.size === 0) return new Map();
  const { rows } = await db.query<[string, string]>({
    name: 'lockstep_lookups_changed_since',
    // Each parameter_values is a JSON array of tuples, so the signature is the inside of a JSON
    // array of them: JSON.parse of it in brackets gives the tuple lists back.
    text: `SELECT k.lookup, c.signature
             FROM jsonb_each_text($2::jsonb) AS k(lookup, known)
             CROSS JOIN LATERAL (SELECT COALESCE(string_agg(p.parameter_values::text, ',' ORDER BY p.source_table, p.source_row_id), '') AS signature
                                   FROM lockstep.parameter_index p
                                  WHERE p.rules_id = $1 AND p.lookup = k.lookup COLLATE "C") c
            WHERE c.signature IS DISTINCT FROM k.known`,
    values: [rulesId, JSON.stringify(Object.fromEntries(known))],
    rowMode: 'array',
  });
  const changed = new Map<string, LookupValues>();
  for (const [key, signature] of rows) changed.set(key, { values: (JSON.parse(`[${signature}]`) as string[][][]).flat(1), signature });
  return changed;
}

/**
 * writeCheckpointsFor at a checkpoint given by op id (its LSN is read in the same statement):
 * the checkpoint's LSN (null when it has none) and, for each client that has one at or before
 * it, its highest write checkpoint id, keyed by clientKey.
 */
export async function writeCheckpointsAt(db: Queryable, rulesId: number, checkpointOpId: number, clients: ReadonlyArray<{ userId: string; clientId: string }>): Promise<{ lsn: string | null; ids: Map<string, number> }> {
  const { rows } = await db.query<{ lsn: string | null; found: Array<[string, string, string]> | null }>(
    {
      name: 'lockstep_write_checkpoints_at',
      text: `WITH cp AS (SELECT lsn FROM lockstep.checkpoints WHERE rules_id = $1 AND op_id = $2)
             SELECT (SELECT lsn::text FROM cp) AS lsn,
                    (SELECT jsonb_agg(jsonb_build_array(c.user_id, c.client_id, w.id::text))
                       FROM jsonb_to_recordset($3::jsonb) AS c(user_id text, client_id text)
                       CROSS JOIN LATERAL (SELECT max(id) AS id FROM lockstep.write_checkpoints w
                                            WHERE w.user_id = c.user_id AND w.client_id = c.client_id AND w.lsn <= (SELECT lsn FROM cp)) w
                      WHERE w.id IS NOT NULL) AS found`,
      values: [rulesId, checkpointOpId, JSON.stringify(clients.map((c) => ({ user_id: c.userId, client_id: c.clientId })))],
    },
  );
  const r = rows[0]!;
  return { lsn: r.lsn, ids: new Map((r.found ?? []).map(([user, client, id]) => [clientKey(user, client), int8(id)])) };
}
