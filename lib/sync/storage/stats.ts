import { rulesVersionNotFound, getRulesVersion } from './rules-versions';
import { int8 } from './sql';
import type { Queryable, RulesVersion } from './types';

export interface StorageStats {
  rulesVersion: RulesVersion;
  /** Buckets with at least one op ever written. */
  buckets: number;
  /** Ops stored now (compaction lowers it). */
  ops: number;
  lastCheckpoint: { opId: number; lsn: string | null; createdAt: Date } | null;
  /** On-disk size of each storage table with its indexes and TOAST, shared by every rules version. */
  tableBytes: Record<'ops' | 'bucket_state' | 'checkpoints' | 'current_rows' | 'parameter_index' | 'write_checkpoints', number>;
  totalBytes: number;
}

/**
 * Figures for status output. Costs O(buckets) plus a few catalog reads; never scans ops.
 *
 * @example
 *   const stats = await storageStats(pool, rulesId);
 *   console.log(`${stats.ops} ops in ${stats.buckets} buckets, ${stats.totalBytes} bytes`);
 */
export async function storageStats(db: Queryable, rulesId: number): Promise<StorageStats> {
  const rulesVersion = await getRulesVersion(db, rulesId);
  if (!rulesVersion) throw rulesVersionNotFound(rulesId);
  const { rows } = await db.query<{
    buckets: string;
    ops: string | null;
    cp_op_id: string | null;
    cp_lsn: string | null;
    cp_at: Date | null;
    ops_bytes: string;
    bucket_state_bytes: string;
    checkpoints_bytes: string;
    current_rows_bytes: string;
    parameter_index_bytes: string;
    write_checkpoints_bytes: string;
  }>(
    `SELECT b.buckets, b.ops, cp.op_id AS cp_op_id, cp.lsn::text AS cp_lsn, cp.created_at AS cp_at,
            pg_total_relation_size('lockstep.ops') AS ops_bytes,
            pg_total_relation_size('lockstep.bucket_state') AS bucket_state_bytes,
            pg_total_relation_size('lockstep.checkpoints') AS checkpoints_bytes,
            pg_total_relation_size('lockstep.current_rows') AS current_rows_bytes,
            pg_total_relation_size('lockstep.parameter_index') AS parameter_index_bytes,
            pg_total_relation_size('lockstep.write_checkpoints') AS write_checkpoints_bytes
       FROM (SELECT count(*) AS buckets, sum(op_count) AS ops FROM lockstep.bucket_state WHERE rules_id = $1) b
       LEFT JOIN LATERAL (SELECT op_id, lsn, created_at FROM lockstep.checkpoints WHERE rules_id = $1 ORDER BY op_id DESC LIMIT 1) cp ON true`,
    [rulesId],
  );
  const r = rows[0]!;
  const tableBytes: StorageStats['tableBytes'] = {
    ops: int8(r.ops_bytes),
    bucket_state: int8(r.bucket_state_bytes),
    checkpoints: int8(r.checkpoints_bytes),
    current_rows: int8(r.current_rows_bytes),
    parameter_index: int8(r.parameter_index_bytes),
    write_checkpoints: int8(r.write_checkpoints_bytes),
  };
  return {
    rulesVersion,
    buckets: int8(r.buckets),
    ops: int8(r.ops),
    lastCheckpoint: r.cp_op_id === null ? null : { opId: int8(r.cp_op_id), lsn: r.cp_lsn, createdAt: r.cp_at! },
    tableBytes,
    totalBytes: Object.values(tableBytes).reduce((a, b) => a + b, 0),
  };
}
