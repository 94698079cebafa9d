import { subtractChecksums } from '@/lib/sync/protocol/checksum';
import { assertLsn, int8 } from './sql';
import type { BucketState, Queryable } from './types';

/** Reads made for the sync stream (lib/sync/server): per-round bucket states, parameter lookups and write checkpoints (op pages: ops-pages.ts). */

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
