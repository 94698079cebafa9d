import type pg from 'pg';
import { StorageErrorCode, storageError } from './errors';
import { latestCheckpoint } from './reads';
import { collapseLeadingRun, scanBucket, turnIntoMoves } from './compact-bucket';
import { int8 } from './sql';

export interface CompactOptions {
  /** Only these buckets (compacted even when unchanged since their last compaction). Default: every bucket changed since. */
  buckets?: string[];
  /** Ops read per page while scanning a bucket from its end. */
  pageSize?: number;
  /** Most (table, row id) keys remembered per bucket; past it the memory is reset and older duplicates are left for a later run. */
  maxTrackedRows?: number;
  /** Most ops merged into the CLEAR op by one statement (at least 2). */
  clearChunk?: number;
  /** Checkpoints kept; older ones are deleted (nothing reads them). */
  keepCheckpoints?: number;
  /**
   * VACUUM lockstep.ops afterwards, so the space of deleted and rewritten ops is reusable at once
   * and readers stop stepping over their index entries (autovacuum gets there eventually too).
   */
  vacuum?: boolean;
}

export interface CompactResult {
  rulesId: number;
  /** The checkpoint op id compaction worked up to; ops after it were not touched. 0 when there was no checkpoint. */
  upToOpId: number;
  bucketsCompacted: number;
  /** Ops stored for the rules version (sum of bucket counts) before and after. */
  opsBefore: number;
  opsAfter: number;
  /** PUT/REMOVE ops turned into MOVE, and ops deleted by merging them into a CLEAR op. */
  movedOps: number;
  mergedOps: number;
  /** Stored size of op data in the compacted buckets (up to upToOpId) before and after. */
  dataBytesBefore: number;
  dataBytesAfter: number;
  /** pg_total_relation_size of lockstep.ops (every version). Freed space is reused by new ops; VACUUM returns trailing pages. */
  relationBytesBefore: number;
  relationBytesAfter: number;
  checkpointsPruned: number;
}

/**
 * Compacts the buckets of a rules version: a PUT or REMOVE superseded by a later op on the same
 * row becomes a MOVE that keeps its checksum, and everything before a bucket's first live PUT
 * (REMOVE, MOVE, CLEAR and superseded ops) collapses into one CLEAR that carries their summed
 * checksum. Bucket checksums never change.
 *
 * Only ops up to the latest checkpoint are touched, in short statements, so commitBatch keeps
 * running alongside: an op it commits meanwhile can only supersede ops a later run compacts.
 * Each bucket's compacted_op_id is raised before its ops are rewritten (see docs/storage.md for
 * the rule the stream follows with it). One compaction per rules version at a time.
 *
 * @example
 *   const result = await compact(pool, rulesId);
 *   console.log(`${result.opsBefore} → ${result.opsAfter} ops`);
 */
export async function compact(pool: pg.Pool, rulesId: number, options: CompactOptions = {}): Promise<CompactResult> {
  const settings = { pageSize: options.pageSize ?? 10_000, maxTrackedRows: options.maxTrackedRows ?? 2_000_000, clearChunk: Math.max(2, options.clearChunk ?? 10_000) };
  const client = await pool.connect();
  let locked = false;
  try {
    const lock = await client.query<{ ok: boolean }>("SELECT pg_try_advisory_lock(hashtext('lockstep:compact'), $1) AS ok", [rulesId]);
    locked = lock.rows[0]?.ok === true;
    if (!locked) throw storageError(StorageErrorCode.compactionBusy, `Rules version ${rulesId} is being compacted by another process; try again when it has finished.`, { details: { rulesId } });

    const result: CompactResult = {
      rulesId, upToOpId: 0, bucketsCompacted: 0, opsBefore: await opTotal(client, rulesId), opsAfter: 0, movedOps: 0, mergedOps: 0,
      dataBytesBefore: 0, dataBytesAfter: 0, relationBytesBefore: await relationBytes(client), relationBytesAfter: 0, checkpointsPruned: 0,
    };
    const bound = (await latestCheckpoint(client, rulesId))?.opId ?? 0;
    result.upToOpId = bound;
    for await (const bucket of bucketsToCompact(client, rulesId, bound, options.buckets)) {
      await client.query('UPDATE lockstep.bucket_state SET compacted_op_id = GREATEST(compacted_op_id, $3) WHERE rules_id = $1 AND bucket = $2', [rulesId, bucket, bound]);
      const scan = await scanBucket(client, rulesId, bucket, bound, settings, (opIds) => turnIntoMoves(client, rulesId, bucket, opIds));
      result.movedOps += scan.moved;
      result.dataBytesBefore += scan.dataBytes;
      result.dataBytesAfter += scan.dataBytes - scan.freedBytes;
      result.mergedOps += await collapseLeadingRun(client, rulesId, bucket, scan.runEnd, settings.clearChunk);
      result.bucketsCompacted++;
    }
    result.checkpointsPruned = await pruneCheckpoints(client, rulesId, options.keepCheckpoints ?? 100);
    if (options.vacuum) await client.query('VACUUM (ANALYZE) lockstep.ops');
    result.opsAfter = await opTotal(client, rulesId);
    result.relationBytesAfter = await relationBytes(client);
    return result;
  } finally {
    // The lock belongs to the session: release it before the connection goes back to the pool.
    // If that fails the connection is broken; destroying it ends the session and the lock.
    let broken: Error | undefined;
    if (locked) {
      await client.query("SELECT pg_advisory_unlock(hashtext('lockstep:compact'), $1)", [rulesId]).catch((error: unknown) => {
        broken = error instanceof Error ? error : new Error(String(error));
      });
    }
    client.release(broken);
  }
}

/** Buckets with ops newer than their last compaction bound, a page at a time so memory stays flat. */
async function* bucketsToCompact(client: pg.PoolClient, rulesId: number, bound: number, only?: string[]): AsyncGenerator<string> {
  if (only) {
    const { rows } = await client.query<{ bucket: string }>('SELECT bucket FROM lockstep.bucket_state WHERE rules_id = $1 AND bucket = ANY($2::text[]) ORDER BY bucket', [rulesId, only]);
    yield* rows.map((r) => r.bucket);
    return;
  }
  let after: string | null = null;
  for (;;) {
    const { rows }: { rows: Array<{ bucket: string }> } = await client.query(
      `SELECT bucket FROM lockstep.bucket_state
        WHERE rules_id = $1 AND compacted_op_id < LEAST(last_op_id, $2) AND ($3::text IS NULL OR bucket > $3::text COLLATE "C")
        ORDER BY bucket LIMIT 1000`,
      [rulesId, bound, after],
    );
    yield* rows.map((r) => r.bucket);
    if (rows.length < 1000) return;
    after = rows[rows.length - 1]!.bucket;
  }
}

async function opTotal(client: pg.PoolClient, rulesId: number): Promise<number> {
  const { rows } = await client.query<{ total: string }>('SELECT COALESCE(sum(op_count), 0) AS total FROM lockstep.bucket_state WHERE rules_id = $1', [rulesId]);
  return int8(rows[0]?.total);
}

async function relationBytes(client: pg.PoolClient): Promise<number> {
  const { rows } = await client.query<{ bytes: string }>("SELECT pg_total_relation_size('lockstep.ops') AS bytes");
  return int8(rows[0]?.bytes);
}

async function pruneCheckpoints(client: pg.PoolClient, rulesId: number, keep: number): Promise<number> {
  const { rowCount } = await client.query(
    `DELETE FROM lockstep.checkpoints WHERE rules_id = $1
        AND op_id < (SELECT op_id FROM lockstep.checkpoints WHERE rules_id = $1 ORDER BY op_id DESC OFFSET $2 LIMIT 1)`,
    [rulesId, Math.max(0, keep - 1)],
  );
  return rowCount ?? 0;
}
