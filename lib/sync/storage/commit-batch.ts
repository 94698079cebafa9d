import type pg from 'pg';
import { StorageErrorCode, storageError } from './errors';
import { prepareBatch, type PreparedBatch } from './prepare-batch';
import { rulesVersionNotFound } from './rules-versions';
import { int8 } from './sql';
import type { CommitBatch, CommitResult } from './types';

/** The channel a NOTIFY '<rules_id>:<op_id>' is sent on for every checkpoint. */
export const CHECKPOINT_CHANNEL = 'lockstep_checkpoint';

/** lockstep.commit_batch (migrations/0002_commit_batch.sql) does the writing, in one round trip. */
const COMMIT_BATCH = `SELECT refused, base_op_id, last_op_id, last_lsn FROM lockstep.commit_batch(${Array.from({ length: 29 }, (_, i) => `$${i + 1}`).join(', ')})`;

/**
 * Commits one batch of the replicator in ONE storage transaction: numbers its ops (consecutive
 * op ids in array order, following commit order across concurrent callers), checksums them,
 * updates bucket totals, current rows and the parameter index, and optionally records a
 * checkpoint and sends NOTIFY lockstep_checkpoint. All or nothing.
 *
 * A batch with `checkpoint: false` (part of a large source transaction) must eventually be
 * followed by one with `checkpoint: true`. Readers are safe meanwhile: the stream reads up to
 * checkpoints, and checkpointState subtracts ops past the latest one.
 *
 * @example
 *   await commitBatch(pool, rulesId, { ops: [{ bucket: 'list["1"]', op: 'PUT', table: 'todos', rowId: 'a', data: '{"id":"a"}' }], lsn: '0/16B3748', checkpoint: true });
 */
export async function commitBatch(pool: pg.Pool, rulesId: number, batch: CommitBatch): Promise<CommitResult> {
  const p = prepareBatch(batch);
  const n = p.ops.ops.length;
  const { rows } = await pool.query<{ refused: string | null; base_op_id: string | null; last_op_id: string | null; last_lsn: string | null }>({
    name: 'lockstep_commit_batch',
    text: COMMIT_BATCH,
    values: functionArguments(rulesId, p),
  });
  const result = rows[0]!;
  if (result.refused !== null) throw refusal(rulesId, result.refused, p.lsn, result.last_lsn);
  const lastOpId = int8(result.last_op_id);
  return { firstOpId: n > 0 ? lastOpId - n + 1 : null, lastOpId, ...(p.checkpoint ? { checkpoint: { opId: lastOpId, lsn: result.last_lsn } } : {}) };
}

/** Each column as one JSON text; NULL for a part of the batch that is empty, so it is skipped. */
function functionArguments(rulesId: number, p: PreparedBatch): unknown[] {
  const json = (...columns: unknown[][]) => columns.map((column) => (columns[0]!.length === 0 ? null : JSON.stringify(column)));
  const { ops, buckets, rowDeletes, rowUpserts: rows, paramDeletes, paramUpserts: params, truncate } = p;
  return [
    rulesId, ops.ops.length, p.lsn, p.snapshotProgress, p.checkpoint,
    ...json(ops.buckets, ops.ops, ops.tables, ops.rowIds, ops.data, ops.checksums),
    ...json(buckets.names, buckets.lastPositions, buckets.checksums, buckets.counts),
    ...json(rowDeletes.tables, rowDeletes.rowIds),
    ...json(truncate.rowTables),
    ...json(rows.tables, rows.rowIds, rows.buckets, rows.values),
    ...json(paramDeletes.tables, paramDeletes.rowIds),
    ...json(truncate.paramTables),
    ...json(params.lookups, params.tables, params.rowIds, params.values),
  ];
}

/** The counter update matched no row: say which of its conditions failed. */
function refusal(rulesId: number, reason: string, lsn: string | null, lastLsn: string | null): Error {
  if (reason === 'not_found') return rulesVersionNotFound(rulesId);
  if (reason === 'retired') {
    return storageError(StorageErrorCode.rulesVersionState, `Rules version ${rulesId} is retired; the replicator must not write to it any more.`, { details: { rulesId } });
  }
  return storageError(
    StorageErrorCode.lsnRegression,
    `Batch LSN ${lsn} is before the LSN ${lastLsn} already committed for rules version ${rulesId}. Committing it again would duplicate ops; the replicator must skip transactions it has already written.`,
    { details: { rulesId, lsn, lastLsn } },
  );
}
