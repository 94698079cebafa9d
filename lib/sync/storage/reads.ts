import type pg from 'pg';
import { subtractChecksums } from '@/lib/sync/protocol/checksum';
import { int8, withTransaction } from './sql';
import type { BucketState, Checkpoint, Queryable, StoredOp } from './types';

/** Reads for the sync stream: checkpoints, bucket checksums and op pages. */

const EMPTY: BucketState = { checksum: 0, count: 0, lastOpId: 0, compactedOpId: 0 };

/** The newest checkpoint of a rules version, or null before its first one. */
export async function latestCheckpoint(db: Queryable, rulesId: number): Promise<Checkpoint | null> {
  const { rows } = await db.query<{ op_id: string; lsn: string | null }>(
    'SELECT op_id, lsn::text AS lsn FROM lockstep.checkpoints WHERE rules_id = $1 ORDER BY op_id DESC LIMIT 1',
    [rulesId],
  );
  return rows[0] ? { opId: int8(rows[0].op_id), lsn: rows[0].lsn } : null;
}

/**
 * Bucket totals as of the latest committed batch, one entry per requested bucket (zeros for a
 * bucket without ops). They run ahead of the latest checkpoint while a large source transaction
 * is half written; use checkpointState when the totals must match a checkpoint.
 */
export async function bucketStates(db: Queryable, rulesId: number, buckets: string[]): Promise<Map<string, BucketState>> {
  const { rows } = await db.query<{ bucket: string; checksum: string; op_count: string; last_op_id: string; compacted_op_id: string }>(
    'SELECT bucket, checksum, op_count, last_op_id, compacted_op_id FROM lockstep.bucket_state WHERE rules_id = $1 AND bucket = ANY($2::text[])',
    [rulesId, buckets],
  );
  const found = new Map(rows.map((r) => [r.bucket, r]));
  return new Map(
    buckets.map((bucket) => {
      const r = found.get(bucket);
      return [bucket, r ? { checksum: int8(r.checksum), count: int8(r.op_count), lastOpId: int8(r.last_op_id), compactedOpId: int8(r.compacted_op_id) } : EMPTY];
    }),
  );
}

/**
 * The latest checkpoint and each bucket's totals exactly as of it, read from one snapshot
 * (REPEATABLE READ). Ops committed after the checkpoint (a source transaction split over several
 * batches) are subtracted, so this costs O(buckets) plus O(ops past the checkpoint).
 *
 * @example
 *   const { checkpoint, buckets } = await checkpointState(pool, rulesId, ['todos["1"]']);
 */
export async function checkpointState(pool: pg.Pool, rulesId: number, buckets: string[]): Promise<{ checkpoint: Checkpoint | null; buckets: Map<string, BucketState> }> {
  return withTransaction(
    pool,
    async (client) => {
      const checkpoint = await latestCheckpoint(client, rulesId);
      const upTo = checkpoint?.opId ?? 0;
      const { rows } = await client.query<{ bucket: string; checksum: string; op_count: string; last_op_id: string; compacted_op_id: string; later_checksum: string | null; later_count: string | null; last_at_checkpoint: string | null }>(
        `SELECT s.bucket, s.checksum, s.op_count, s.last_op_id, s.compacted_op_id,
                CASE WHEN s.last_op_id > $3 THEN (SELECT sum(o.checksum) % 4294967296 FROM lockstep.ops o WHERE o.rules_id = $1 AND o.bucket = s.bucket AND o.op_id > $3) END AS later_checksum,
                CASE WHEN s.last_op_id > $3 THEN (SELECT count(*) FROM lockstep.ops o WHERE o.rules_id = $1 AND o.bucket = s.bucket AND o.op_id > $3) END AS later_count,
                CASE WHEN s.last_op_id > $3 THEN (SELECT max(o.op_id) FROM lockstep.ops o WHERE o.rules_id = $1 AND o.bucket = s.bucket AND o.op_id <= $3) END AS last_at_checkpoint
           FROM lockstep.bucket_state s
          WHERE s.rules_id = $1 AND s.bucket = ANY($2::text[])`,
        [rulesId, buckets, upTo],
      );
      const found = new Map(rows.map((r) => [r.bucket, r]));
      const states = new Map<string, BucketState>();
      for (const bucket of buckets) {
        const r = found.get(bucket);
        if (!r) {
          states.set(bucket, EMPTY);
          continue;
        }
        const ahead = r.later_count !== null;
        states.set(bucket, {
          checksum: ahead ? subtractChecksums(int8(r.checksum), int8(r.later_checksum)) : int8(r.checksum),
          count: int8(r.op_count) - int8(r.later_count),
          lastOpId: ahead ? int8(r.last_at_checkpoint) : int8(r.last_op_id),
          compactedOpId: int8(r.compacted_op_id),
        });
      }
      return { checkpoint, buckets: states };
    },
    'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY',
  );
}

/**
 * Up to `limit` ops of a bucket with afterOpId < op_id <= upToOpId, in op id order. Page by
 * passing the last op id returned as the next afterOpId.
 */
export async function readOps(db: Queryable, rulesId: number, bucket: string, afterOpId: number, upToOpId: number, limit: number): Promise<StoredOp[]> {
  const { rows } = await db.query<{ op_id: string; op: StoredOp['op']; table_name: string | null; row_id: string | null; data: string | null; checksum: string }>(
    {
      name: 'lockstep_read_ops',
      text: `SELECT op_id, op, table_name, row_id, data, checksum FROM lockstep.ops
              WHERE rules_id = $1 AND bucket = $2 AND op_id > $3 AND op_id <= $4 ORDER BY op_id LIMIT $5`,
      values: [rulesId, bucket, afterOpId, upToOpId, limit],
    },
  );
  return rows.map((r) => ({ opId: int8(r.op_id), op: r.op, table: r.table_name, rowId: r.row_id, data: r.data, checksum: int8(r.checksum) }));
}

/**
 * Checksum and count of a bucket's ops with afterOpId < op_id <= upToOpId. When the range holds
 * the bucket's CLEAR op, `cleared` is true: the sum then covers everything up to upToOpId (a
 * CLEAR carries the checksums of all ops before it), so it replaces a client's total rather than
 * adding to it.
 */
export async function checksumRange(db: Queryable, rulesId: number, bucket: string, afterOpId: number, upToOpId: number): Promise<{ checksum: number; count: number; cleared: boolean }> {
  const { rows } = await db.query<{ checksum: string; count: string; cleared: boolean | null }>(
    `SELECT COALESCE(sum(checksum), 0) % 4294967296 AS checksum, count(*) AS count, bool_or(op = 'CLEAR') AS cleared
       FROM lockstep.ops WHERE rules_id = $1 AND bucket = $2 AND op_id > $3 AND op_id <= $4`,
    [rulesId, bucket, afterOpId, upToOpId],
  );
  const r = rows[0]!;
  return { checksum: int8(r.checksum), count: int8(r.count), cleared: r.cleared === true };
}
