import type pg from 'pg';
import { int8 } from './sql';

/** The two passes of compacting one bucket; compact.ts drives them over every bucket. */

/** Op ids converted to MOVE per UPDATE statement: short statements, short row locks. */
const MOVE_BATCH = 5_000;
/** Superseded ops held back while they may still fall into the leading run (then they are merged, not converted). */
const MAX_HELD_BACK = 2_000_000;

export interface ScanResult {
  moved: number;
  /** Stored size of the data of every op scanned, and of the superseded ops (which lose it). */
  dataBytes: number;
  freedBytes: number;
  /**
   * The bucket's ops up to here leave nothing on a client (everything before its first live PUT:
   * REMOVE, MOVE, CLEAR, superseded ops), so collapseLeadingRun merges them into one CLEAR.
   */
  runEnd: number;
}

/**
 * Pass 1: reads the bucket from `bound` backwards, a page at a time, remembering each
 * (table, row id) seen. A PUT or REMOVE whose row was already seen has been superseded by a
 * later op and goes to `flush` (in batches) to become a MOVE, unless it lies below every live
 * PUT: those belong to the leading run, which pass 2 deletes anyway. Reads no data, only sizes.
 */
export async function scanBucket(
  client: pg.PoolClient,
  rulesId: number,
  bucket: string,
  bound: number,
  settings: { pageSize: number; maxTrackedRows: number },
  flush: (opIds: number[]) => Promise<number>,
): Promise<ScanResult> {
  const seen = new Set<string>();
  const result: ScanResult = { moved: 0, dataBytes: 0, freedBytes: 0, runEnd: bound };
  let movable: number[] = [];
  let heldBack: number[] = [];
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
      const opId = int8(row.op_id);
      const key = `${row.table_name}\u0000${row.row_id}`;
      if (seen.has(key)) {
        heldBack.push(opId);
        result.freedBytes += row.size;
        continue;
      }
      // Forgetting rows only means older duplicates stay as they are: safe, just less compact.
      if (seen.size >= settings.maxTrackedRows) seen.clear();
      seen.add(key);
      if (row.op === 'PUT') {
        // A live PUT: everything superseded above it is not in the leading run.
        result.runEnd = opId - 1;
        for (const id of heldBack) movable.push(id);
        heldBack = [];
      }
    }
    if (heldBack.length > MAX_HELD_BACK) {
      for (const id of heldBack) movable.push(id);
      heldBack = [];
    }
    if (movable.length >= MOVE_BATCH) {
      result.moved += await flush(movable);
      movable = [];
    }
    if (rows.length < settings.pageSize) break;
    before = int8(rows[rows.length - 1]!.op_id);
  }
  // Anything still held back is below runEnd: pass 2 merges it into the CLEAR.
  if (movable.length > 0) result.moved += await flush(movable);
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
 * One step of pass 2: merges the first `chunk` ops up to runEnd into ONE CLEAR op at the op id
 * of the last of them, carrying their summed checksum, and lowers the bucket's op count to match.
 * A single statement, so every step commits a valid bucket (a CLEAR first) and holds the
 * bucket_state row lock, which commitBatch also takes, only for that statement.
 */
const MERGE_CHUNK = `
WITH chunk AS (
  SELECT op_id, checksum FROM lockstep.ops WHERE rules_id = $1 AND bucket = $2 AND op_id >= $5 AND op_id <= $3 ORDER BY op_id LIMIT $4
), agg AS (
  SELECT min(op_id) AS first, max(op_id) AS last, COALESCE(sum(checksum), 0) % 4294967296 AS total, count(*) AS n FROM chunk
), removed AS (
  DELETE FROM lockstep.ops o USING agg
   WHERE o.rules_id = $1 AND o.bucket = $2 AND o.op_id >= agg.first AND o.op_id < agg.last
), cleared AS (
  UPDATE lockstep.ops o SET op = 'CLEAR', checksum = agg.total, table_name = NULL, row_id = NULL, data = NULL
    FROM agg WHERE o.rules_id = $1 AND o.bucket = $2 AND o.op_id = agg.last AND (agg.n > 1 OR o.op <> 'CLEAR')
), counted AS (
  UPDATE lockstep.bucket_state s SET op_count = s.op_count - (agg.n - 1)
    FROM agg WHERE s.rules_id = $1 AND s.bucket = $2 AND agg.n > 1
)
SELECT n, last FROM agg`;

/**
 * Pass 2: the ops up to runEnd leave nothing on a client, so they become one CLEAR. Every op
 * there is at or below the compaction bound, where commitBatch never writes, so no op can
 * appear in a range while it is merged. Returns the number of ops removed.
 */
export async function collapseLeadingRun(client: pg.PoolClient, rulesId: number, bucket: string, runEnd: number, chunk: number): Promise<number> {
  let removed = 0;
  // Each chunk starts at the CLEAR the previous one left: the index entries of the ops it deleted
  // stay until VACUUM, and scanning from the bucket's start every time would wade through them all.
  let from = 0;
  for (;;) {
    const { rows } = await client.query<{ n: string; last: string | null }>({ name: 'lockstep_compact_merge', text: MERGE_CHUNK, values: [rulesId, bucket, runEnd, chunk, from] });
    const n = int8(rows[0]?.n);
    if (n > 1) removed += n - 1;
    if (n < chunk) return removed;
    from = int8(rows[0]?.last);
  }
}
