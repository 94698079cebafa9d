import { UploadLimits, type UploadOp } from '@/lib/sync/protocol';
import type { SqlDatabase } from '../db/database';
import type { QueueEntry } from './queue-store';

/**
 * How many queued transactions one upload call carries. The defaults stay well under the
 * server's UploadLimits and under Next.js's server-action body limit (1 MB by default).
 */
export interface UploadBatchLimits {
  /** Transactions per call (at least 1). */
  maxTransactions: number;
  /** JSON bytes of the transactions per call; a single larger transaction still goes, alone. */
  maxBytes: number;
}

export const DEFAULT_UPLOAD_BATCH: UploadBatchLimits = { maxTransactions: 200, maxBytes: 256 * 1024 };

type EntryRow = { seq: number; tx_id: string; write_checkpoint: string | null; attempts: number };
type OpRow = { tx_id: string; op: string; tbl: string; row_id: string; data: string | null };

/**
 * The oldest pending entries, in queue order, as many as fit in `limits` (at least one when any
 * is pending). Two queries, however many entries.
 */
export function pendingBatch(db: SqlDatabase, limits: UploadBatchLimits): QueueEntry[] {
  const count = Math.max(1, Math.min(limits.maxTransactions, UploadLimits.maxTransactions));
  const rows = db.all<EntryRow>("SELECT seq, tx_id, write_checkpoint, attempts FROM ls_upload_queue WHERE state = 'pending' ORDER BY seq LIMIT ?", [count]);
  if (rows.length === 0) return [];
  const ops = new Map<string, UploadOp[]>(rows.map((r) => [r.tx_id, []]));
  const opRows = db.all<OpRow>(
    `SELECT o.tx_id, o.op, o.tbl, o.row_id, o.data FROM ls_upload_ops o
       JOIN (SELECT tx_id FROM ls_upload_queue WHERE state = 'pending' ORDER BY seq LIMIT ?) q ON q.tx_id = o.tx_id
      ORDER BY o.seq`,
    [count],
  );
  for (const r of opRows) ops.get(r.tx_id)?.push(r.op === 'DELETE' ? { op: 'DELETE', table: r.tbl, id: r.row_id } : { op: r.op as 'PUT' | 'PATCH', table: r.tbl, id: r.row_id, data: JSON.parse(r.data ?? '{}') as Record<string, unknown> });
  const batch: QueueEntry[] = [];
  let bytes = 0;
  let opCount = 0;
  for (const r of rows) {
    const transaction = { id: r.tx_id, ops: ops.get(r.tx_id) ?? [] };
    const size = utf8Length(JSON.stringify(transaction));
    const fits = bytes + size <= limits.maxBytes && opCount + transaction.ops.length <= UploadLimits.maxBatchOps;
    if (batch.length > 0 && !fits) break;
    batch.push({ seq: Number(r.seq), transaction, state: 'pending', writeCheckpoint: r.write_checkpoint, attempts: Number(r.attempts) });
    bytes += size;
    opCount += transaction.ops.length;
  }
  return batch;
}

/** One more attempt for each of these entries. */
export function countAttempts(db: SqlDatabase, txIds: readonly string[]): void {
  if (txIds.length === 0) return;
  db.run('UPDATE ls_upload_queue SET attempts = attempts + 1 WHERE tx_id IN (SELECT value FROM json_each(?))', [JSON.stringify(txIds)]);
}

const encoder = new TextEncoder();

/** UTF-8 bytes of `text`. */
export function utf8Length(text: string): number {
  // Plain ASCII (the usual row) is one byte a character; encode only when something is not.
  // eslint-disable-next-line no-control-regex
  return /^[\x00-\x7f]*$/.test(text) ? text.length : encoder.encode(text).length;
}
