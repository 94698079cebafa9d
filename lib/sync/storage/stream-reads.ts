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

interface StateRow {
  bucket: string;
  checksum: string;
  op_count: string;
  last_op_id: string;
  compacted_op_id: string;
  later_checksum: string | null;
  later_count: string | null;
  last_at_checkpoint: string | null;
}

/** Select-list columns over `s` (bucket_state) that undo ops past checkpoint $2: a source transaction still being written. */
const PAST_CHECKPOINT = `CASE WHEN s.last_op_id > $2 THEN (SELECT sum(o.checksum) % 4294967296 FROM lockstep.ops o WHERE o.rules_id = $1 AND o.bucket = s.bucket AND o.op_id > $2) END AS later_checksum,
       CASE WHEN s.last_op_id > $2 THEN (SELECT count(*) FROM lockstep.ops o WHERE o.rules_id = $1 AND o.bucket = s.bucket AND o.op_id > $2) END AS later_count,
       CASE WHEN s.last_op_id > $2 THEN (SELECT max(o.op_id) FROM lockstep.ops o WHERE o.rules_id = $1 AND o.bucket = s.bucket AND o.op_id <= $2) END AS last_at_checkpoint`;

/** A bucket's state as of the checkpoint, from a row with PAST_CHECKPOINT's columns. */
function stateAt(r: StateRow): BucketState {
  const ahead = r.later_count !== null;
  return {
    checksum: ahead ? subtractChecksums(int8(r.checksum), int8(r.later_checksum)) : int8(r.checksum),
    count: int8(r.op_count) - int8(r.later_count),
    lastOpId: ahead ? int8(r.last_at_checkpoint) : int8(r.last_op_id),
    compactedOpId: int8(r.compacted_op_id),
  };
}

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
  const { rows } = await db.query<StateRow>(
    {
      name: 'lockstep_bucket_states_at_v2',
      text: `SELECT s.bucket, s.checksum, s.op_count, s.last_op_id, s.compacted_op_id, ${PAST_CHECKPOINT}
               FROM (SELECT DISTINCT value COLLATE "C" AS bucket FROM jsonb_array_elements_text($3::jsonb)) b
               JOIN lockstep.bucket_state s ON s.rules_id = $1 AND s.bucket = b.bucket
              WHERE s.last_op_id > $4 OR s.bucket = ANY(ARRAY(SELECT jsonb_array_elements_text($5::jsonb)))`,
      values: [rulesId, upToOpId, JSON.stringify([...buckets, ...include]), sinceOpId, JSON.stringify(include)],
    },
  );
  const wanted = new Set(include);
  const states = new Map<string, BucketState>();
  for (const r of rows) {
    const state = stateAt(r);
    if (state.lastOpId > sinceOpId || wanted.has(r.bucket)) states.set(r.bucket, state);
  }
  for (const bucket of include) if (!states.has(bucket)) states.set(bucket, EMPTY_STATE);
  return states;
}

/**
 * Every bucket with ops after `sinceOpId`, exactly as of checkpoint `upToOpId` (as bucketStatesAt
 * computes them), found through the index on (rules_id, last_op_id) (migration 0011): the cost
 * follows what changed, not the number of buckets clients hold. Null when `limit` buckets or more
 * changed: then ask bucketStatesAt for the buckets that matter instead.
 *
 * @example
 *   const changed = await bucketsChangedAt(pool, rulesId, checkpoint.opId, previous.opId, 1_000);
 */
export async function bucketsChangedAt(db: Queryable, rulesId: number, upToOpId: number, sinceOpId: number, limit: number): Promise<Map<string, BucketState> | null> {
  const { rows } = await db.query<StateRow>({
    name: 'lockstep_buckets_changed_at',
    text: `SELECT s.bucket, s.checksum, s.op_count, s.last_op_id, s.compacted_op_id, ${PAST_CHECKPOINT}
             FROM lockstep.bucket_state s
            WHERE s.rules_id = $1 AND s.last_op_id > $3
            LIMIT $4`,
    values: [rulesId, upToOpId, sinceOpId, limit],
  });
  if (rows.length >= limit) return null;
  const states = new Map<string, BucketState>();
  for (const r of rows) {
    const state = stateAt(r);
    if (state.lastOpId > sinceOpId) states.set(r.bucket, state);
  }
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
 * one (null: unknown, always returned), its tuples and new signature. One index scan reads the
 * keys' rows (a round over a thousand streams' lookups is one query, whatever the number of
 * keys); only keys that changed (usually none) are parsed.
 *
 * @example
 *   const all = await lookupsChangedSince(pool, rulesId, new Map([[key, null]]));
 *   const later = await lookupsChangedSince(pool, rulesId, new Map([[key, all.get(key)!.signature]])); // empty if unchanged
 */
export async function lookupsChangedSince(db: Queryable, rulesId: number, known: ReadonlyMap<string, string | null>): Promise<Map<string, LookupValues>> {
  if (known.size === 0) return new Map();
  const { rows } = await db.query<[string, string]>({
    // Unnamed, so Postgres plans it with the keys in hand: it then hashes them, and picks the
    // primary key or a scan of the version's rows from their real count.
    // In primary key order: by key, then source row, the order signatures are made in.
    text: `SELECT p.lookup, p.parameter_values::text
             FROM lockstep.parameter_index p
            WHERE p.rules_id = $1 AND p.lookup = ANY($2::text[] COLLATE "C")
            ORDER BY p.lookup, p.source_table, p.source_row_id`,
    values: [rulesId, textArray(known.keys())],
    rowMode: 'array',
  });
  const current = new Map<string, string>();
  for (const [key, values] of rows) {
    const before = current.get(key);
    current.set(key, before === undefined ? values : `${before},${values}`);
  }
  const changed = new Map<string, LookupValues>();
  for (const [key, signature] of known) {
    const now = current.get(key) ?? '';
    // Each parameter_values is a JSON array of tuples, so the signature is the inside of a JSON
    // array of them: JSON.parse of it in brackets gives the tuple lists back.
    if (now !== signature) changed.set(key, { values: (JSON.parse(`[${now}]`) as string[][][]).flat(1), signature: now });
  }
  return changed;
}

/**
 * A text[] parameter as one array literal, each element quoted: node-postgres would escape a
 * JS array element by element, which costs more than the query when there are thousands.
 */
function textArray(items: Iterable<string>): string {
  let literal = '{';
  for (const item of items) literal += `${literal.length > 1 ? ',' : ''}"${item.replace(/[\\"]/g, '\\$&')}"`;
  return `${literal}}`;
}

/** Write checkpoints reached by a checkpoint (writeCheckpointsAt, writeCheckpointsReachedAt). */
export interface WriteCheckpointsAt {
  /** The checkpoint's LSN; null when it has none (then no write checkpoint is reached). */
  lsn: string | null;
  /** Per client (clientKey), the highest write checkpoint id found at or before the LSN. */
  ids: Map<string, number>;
  /** The highest write checkpoint id visible to the statement (0 when none): see writeCheckpointsReachedAt. */
  maxId: number;
}

/**
 * The start of both write checkpoint statements below: the checkpoint's LSN ($1 rules id, $2 op
 * id) as `cp`, and the columns lsn and max_id; each adds its own `found`.
 */
const WRITE_CHECKPOINTS_AT = `WITH cp AS (SELECT lsn FROM lockstep.checkpoints WHERE rules_id = $1 AND op_id = $2)
             SELECT (SELECT lsn::text FROM cp) AS lsn,
                    (SELECT max(id) FROM lockstep.write_checkpoints) AS max_id,`;

/** A row of those statements: found holds [user id, client id, write checkpoint id]. */
interface WriteCheckpointsRow {
  lsn: string | null;
  max_id: string | null;
  found: Array<[string, string, string]> | null;
}

/**
 * writeCheckpointsFor at a checkpoint given by op id (its LSN is read in the same statement):
 * the checkpoint's LSN (null when it has none) and, for each client that has one at or before
 * it, its highest write checkpoint id, keyed by clientKey.
 */
export async function writeCheckpointsAt(db: Queryable, rulesId: number, checkpointOpId: number, clients: ReadonlyArray<{ userId: string; clientId: string }>): Promise<WriteCheckpointsAt> {
  const { rows } = await db.query<WriteCheckpointsRow>(
    {
      name: 'lockstep_write_checkpoints_at_v2',
      text: `${WRITE_CHECKPOINTS_AT}
                    (SELECT json_agg(json_build_array(c.user_id, c.client_id, w.id::text))
                       FROM unnest($3::text[], $4::text[]) AS c(user_id, client_id)
                       CROSS JOIN LATERAL (SELECT max(id) AS id FROM lockstep.write_checkpoints w
                                            WHERE w.user_id = c.user_id AND w.client_id = c.client_id AND w.lsn <= (SELECT lsn FROM cp)) w
                      WHERE w.id IS NOT NULL) AS found`,
      values: [rulesId, checkpointOpId, clients.map((c) => c.userId), clients.map((c) => c.clientId)],
    },
  );
  return reached(rows[0]!);
}

/**
 * The write checkpoints a checkpoint newly reaches, whoever their client: those with an LSN after
 * `afterLsn` (the LSN of the checkpoint read before; needs the index of migration 0011) or an id
 * after `afterId`, and at or before this checkpoint's LSN; per client, the highest. The cost
 * follows the write checkpoints made meanwhile, not the number of clients connected.
 *
 * Why both: a write checkpoint is recorded after its LSN is read from the source, so it can be
 * committed just after a checkpoint past that LSN was read. Its LSN is then not after `afterLsn`,
 * but its id is after any `afterId` taken from a maxId read before it committed (ids are handed
 * out when the row is inserted; pass a maxId read a while ago, so that an insert still running
 * when it was read is covered too).
 *
 * @example
 *   const at = await writeCheckpointsReachedAt(pool, rulesId, checkpoint.opId, olderMaxId, previous.lsn);
 */
export async function writeCheckpointsReachedAt(db: Queryable, rulesId: number, checkpointOpId: number, afterId: number, afterLsn: string): Promise<WriteCheckpointsAt> {
  const { rows } = await db.query<WriteCheckpointsRow>(
    {
      name: 'lockstep_write_checkpoints_reached_at',
      text: `${WRITE_CHECKPOINTS_AT}
                    (SELECT json_agg(json_build_array(f.user_id, f.client_id, f.id::text))
                       FROM (SELECT w.user_id, w.client_id, max(w.id) AS id FROM lockstep.write_checkpoints w
                              WHERE (w.id > $3 OR w.lsn > $4::pg_lsn) AND w.lsn <= (SELECT lsn FROM cp)
                              GROUP BY w.user_id, w.client_id) f) AS found`,
      values: [rulesId, checkpointOpId, afterId, assertLsn(afterLsn)],
    },
  );
  return reached(rows[0]!);
}

/** The highest write checkpoint id there is (0 when none): a starting point for writeCheckpointsReachedAt. */
export async function maxWriteCheckpointId(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ max_id: string | null }>({ name: 'lockstep_max_write_checkpoint_id', text: 'SELECT max(id) AS max_id FROM lockstep.write_checkpoints' });
  return int8(rows[0]?.max_id);
}

function reached(r: WriteCheckpointsRow): WriteCheckpointsAt {
  return { lsn: r.lsn, maxId: int8(r.max_id), ids: new Map((r.found ?? []).map(([user, client, id]) => [clientKey(user, client), int8(id)])) };
}
