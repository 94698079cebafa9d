import type pg from 'pg';
import type { UploadErrorBody } from '@/lib/sync/protocol';

/**
 * Upload records in bucket storage (lockstep.upload_transactions, migration 0010). A record is
 * written 'pending' with the app transaction's xid before that transaction commits, and settled
 * afterwards; a retry that finds it still pending asks the app database what became of the xid.
 */
export interface UploadRecord {
  userId: string;
  clientId: string;
  state: 'pending' | 'applied' | 'rejected';
  appXid: string | null;
  writeCheckpoint: string | null;
  error: UploadErrorBody | null;
}

/** How long records are kept: a retry of a lost response after this is treated as new. */
export const UPLOAD_RECORD_RETENTION_DAYS = 7;

/** The records of these transaction ids, by id (ids without one are absent). */
export async function findUploadRecords(storage: pg.Pool, transactionIds: readonly string[]): Promise<Map<string, UploadRecord>> {
  const { rows } = await storage.query<{ transaction_id: string; user_id: string; client_id: string; state: UploadRecord['state']; app_xid: string | null; write_checkpoint: string | null; error: UploadErrorBody | null }>(
    'SELECT transaction_id, user_id, client_id, state, app_xid, write_checkpoint::text AS write_checkpoint, error FROM lockstep.upload_transactions WHERE transaction_id = ANY($1::uuid[])',
    [transactionIds],
  );
  return new Map(rows.map((r) => [r.transaction_id, { userId: r.user_id, clientId: r.client_id, state: r.state, appXid: r.app_xid, writeCheckpoint: r.write_checkpoint, error: r.error }]));
}

/** Marks the transactions as being applied by app transaction `xid` (inserted, or taken over from an aborted attempt). */
export async function markPending(storage: pg.Pool, transactionIds: readonly string[], userId: string, clientId: string, xid: string): Promise<void> {
  if (transactionIds.length === 0) return;
  await storage.query(
    `INSERT INTO lockstep.upload_transactions (transaction_id, user_id, client_id, state, app_xid)
       SELECT id, $2, $3, 'pending', $4 FROM unnest($1::uuid[]) AS id
     ON CONFLICT (transaction_id) DO UPDATE SET app_xid = EXCLUDED.app_xid, updated_at = now()
       WHERE lockstep.upload_transactions.state = 'pending' AND lockstep.upload_transactions.user_id = EXCLUDED.user_id`,
    [transactionIds, userId, clientId, xid],
  );
}

/**
 * Forgets the pending marks that app transaction `xid` set on transactions it did not apply (a
 * retry stopped the batch before them): once `xid` commits, a pending mark would read as applied.
 */
export async function unmarkPending(storage: pg.Pool, transactionIds: readonly string[], xid: string): Promise<void> {
  if (transactionIds.length === 0) return;
  await storage.query("DELETE FROM lockstep.upload_transactions WHERE transaction_id = ANY($1::uuid[]) AND state = 'pending' AND app_xid = $2", [transactionIds, xid]);
}

export type UploadOutcome = { state: 'applied'; writeCheckpoint: number } | { state: 'rejected'; error: UploadErrorBody };

/** Settles transactions for good: applied with their write checkpoint, or rejected with the error. */
export async function settle(storage: pg.Pool, userId: string, clientId: string, outcomes: ReadonlyArray<{ transactionId: string; outcome: UploadOutcome }>): Promise<void> {
  if (outcomes.length === 0) return;
  await storage.query(
    `INSERT INTO lockstep.upload_transactions (transaction_id, user_id, client_id, state, write_checkpoint, error)
       SELECT o.id, $1, $2, o.state, o.wc, o.error FROM unnest($3::uuid[], $4::text[], $5::bigint[], $6::jsonb[]) AS o(id, state, wc, error)
     ON CONFLICT (transaction_id) DO UPDATE SET state = EXCLUDED.state, write_checkpoint = EXCLUDED.write_checkpoint, error = EXCLUDED.error, updated_at = now()
       WHERE lockstep.upload_transactions.user_id = EXCLUDED.user_id`,
    [
      userId,
      clientId,
      outcomes.map((o) => o.transactionId),
      outcomes.map((o) => o.outcome.state),
      outcomes.map((o) => (o.outcome.state === 'applied' ? o.outcome.writeCheckpoint : null)),
      outcomes.map((o) => (o.outcome.state === 'rejected' ? JSON.stringify(o.outcome.error) : null)),
    ],
  );
}

/** Drops records past the retention, a bounded number at a time. */
export async function pruneUploadRecords(storage: pg.Pool): Promise<void> {
  await storage.query(
    `DELETE FROM lockstep.upload_transactions WHERE transaction_id IN (
       SELECT transaction_id FROM lockstep.upload_transactions WHERE created_at < now() - make_interval(days => $1) LIMIT 1000)`,
    [UPLOAD_RECORD_RETENTION_DAYS],
  );
}

/** What became of an app transaction: 'committed', 'aborted', 'in progress', or null when too old to tell. */
export async function appTransactionStatus(source: pg.Pool, xid: string): Promise<string | null> {
  try {
    const { rows } = await source.query<{ status: string | null }>('SELECT pg_xact_status($1::xid8) AS status', [xid]);
    return rows[0]?.status ?? null;
  } catch {
    // Postgres refuses an xid from before its oldest kept transaction status.
    return null;
  }
}
