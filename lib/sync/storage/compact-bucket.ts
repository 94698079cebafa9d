import type pg from 'pg';
import { addChecksums } from '@/lib/sync/protocol/checksum';
import { int8 } from './sql';

/** The two passes of compacting one bucket; compact.ts drives them over every bucket. */

/** Op ids converted to MOVE per UPDATE statement: short statements, short row locks. */
const MOVE_BATCH = 5_000;

export interface ScanResult {
  moved: number;
  /** Stored size of the data of every op scanned, and of the ops turned into MOVE. */
  dataBytes: number;
  freedBytes: number;
}

/**
 * Pass 1: reads the bucket from `bound` backwards, a page at a time, remembering each
 * (table, row id) seen. A PUT or REMOVE whose row was already seen has been superseded by a
 * later op, so its op id goes to `flush` (in batches). Only narrow columns are read, never data.
 */
export async function supersededOps(
  client: pg.PoolClient,
  rulesId: number,
  bucket: string,
  bound: number,
  settings: { pageSize: number; maxTrackedRows: number },
  flush: (opIds: number[]) => Promise<number>,
): Promise<ScanResult> {
  const seen = new Set<string>();
  const result: ScanResult = { moved: 0, dataBytes: 0, freedBytes: 0 };
  let pending: number[] = [];
  let before = bound + 1;
  for (;;) {
    const { rows } = await client.query<{ op_id: string; op: string; table_name: string | null; row_id: string | null; size: number }>(
      {
        name: 'lockstep_compact_scan',
        text: `SELECT op_id, op, table_name, row_id, COALESCE(pg_column_size(data), 0) AS size FROM lockstep.ops
                WHERE rules_id = $1 AND bucket = $2 AND op_id < $3 ORDER BY op_id DESC LIMIT $4`,
        values: [rulesId, bucket, before, settings.pageSize],
      },
    );
    for (const row of rows) {
      result.dataBytes += row.size;
      if (row.op !== 'PUT' && row.op !== 'REMOVE') continue;
      const key = `${row.table_name}\u0000${row.row_id}`;
      if (seen.has(key)) {
        pending.push(int8(row.op_id));
        result.freedBytes += row.size;
        continue;
      }
      // Forgetting rows only means older duplicates stay as they are: safe, just less compact.
      if (seen.size >= settings.maxTrackedRows) seen.clear();
      seen.add(key);
    }
    if (pending.length >= MOVE_BATCH) {
      result.moved += await flush(pending);
      pending = [];
    }
    if (rows.length < settings.pageSize) break;
    before = int8(rows[rows.length - 1]!.op_id);
  }
  if (pending.length > 0) result.moved += await flush(pending);
  return result;
}

/** Turns superseded ops into MOVE: the checksum stays, table, row id and data go. */
export async function turnIntoMoves(client: pg.PoolClient, rulesId: number, bucket: string, opIds: number[]): Promise<number> {
  const { rowCount } = await client.query(
    {
      name: 'lockstep_compact_move',
      text: `UPDATE lockstep.ops SET op = 'MOVE', table_name = NULL, row_id = NULL, data = NULL
              WHERE rules_id = $1 AND bucket = $2 AND op_id = ANY($3::bigint[]) AND op IN ('PUT', 'REMOVE')`,
      values: [rulesId, bucket, opIds],
    },
  );
  return rowCount ?? 0;
}

/**
 * Pass 2: the ops at the start of the bucket that are not PUT (REMOVE, MOVE, an earlier CLEAR)
 * leave nothing on a client, so they merge into ONE CLEAR op, at the op id of the last of them,
 * carrying their summed checksum. Each chunk is one transaction that leaves a valid bucket (a
 * CLEAR first), so a long run never holds locks for long. Returns the number of ops removed.
 */
export async function collapseLeadingRun(client: pg.PoolClient, rulesId: number, bucket: string, bound: number, chunk: number): Promise<number> {
  let removed = 0;
  for (;;) {
    await client.query('BEGIN');
    try {
      const { rows } = await client.query<{ op_id: string; op: string; checksum: string }>(
        'SELECT op_id, op, checksum FROM lockstep.ops WHERE rules_id = $1 AND bucket = $2 AND op_id <= $3 ORDER BY op_id LIMIT $4',
        [rulesId, bucket, bound, chunk],
      );
      let run = 0;
      let checksum = 0;
      while (run < rows.length && rows[run]!.op !== 'PUT') checksum = addChecksums(checksum, int8(rows[run++]!.checksum));
      if (run < 2) {
        await client.query('COMMIT');
        return removed;
      }
      const first = int8(rows[0]!.op_id);
      const last = int8(rows[run - 1]!.op_id);
      // No op can appear in [first, last] meanwhile: new ops get ids above every checkpoint.
      await client.query('DELETE FROM lockstep.ops WHERE rules_id = $1 AND bucket = $2 AND op_id >= $3 AND op_id < $4', [rulesId, bucket, first, last]);
      await client.query(
        "UPDATE lockstep.ops SET op = 'CLEAR', checksum = $4, table_name = NULL, row_id = NULL, data = NULL WHERE rules_id = $1 AND bucket = $2 AND op_id = $3",
        [rulesId, bucket, last, checksum],
      );
      // Last, so the bucket_state row lock (which commitBatch also needs) is held only briefly.
      await client.query('UPDATE lockstep.bucket_state SET op_count = op_count - $3 WHERE rules_id = $1 AND bucket = $2', [rulesId, bucket, run - 1]);
      await client.query('COMMIT');
      removed += run - 1;
      if (run < rows.length || rows.length < chunk) return removed;
    } catch (error: unknown) {
      // Report the statement's error; a failing ROLLBACK only means the connection is gone.
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  }
}
