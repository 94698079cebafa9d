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

export async function findUploadRecord(storage: pg.Pool, transactionId: string): Promise<UploadRecord | null> {
  const { rows } = await storage.query<{ user_id: string; client_id: string; state: UploadRecord['state']; app_xid: string | null; write_checkpoint: string | null; error: UploadErrorBody | null }>(
    'SELECT user_id, client_id, state, app_xid, write_checkpoint::text AS write_checkpoint, error FROM lockstep.upload_transactions WHERE transaction_id = $1',
    [transactionId],
  );
  const row = rows[0];
  return row ? { userId: row.user_id, clientId: row.client_id, state: row.state, appXid: row.app_xid, writeCheckpoint: row.write_checkpoint, error: row.error } : null;
}

/** Marks the transaction as being applied by app transaction `xid` (inserted, or taken over from an aborted attempt). */
export async function markPending(storage: pg.Pool, transactionId: string, userId: string, clientId: string, xid: string): Promise<void> {
  await storage.query(
    `INSERT INTO lockstep.upload_transactions (transaction_id, user_id, client_id, state, app_xid) VALUES ($1, $2, $3, 'pending', $4)
     ON CONFLICT (transaction_id) DO UPDATE SET app_xid = EXCLUDED.app_xid, updated_at = now()
       WHERE lockstep.upload_transactions.state = 'pending' AND lockstep.upload_transactions.user_id = EXCLUDED.user_id`,
    [transactionId, userId, clientId, xid],
  );
}

export async function settle(storage: pg.Pool, transactionId: string, userId: string, clientId: string, outcome: { state: 'applied'; writeCheckpoint: number } | { state: 'rejected'; error: UploadErrorBody }): Promise<void> {
  await storage.query(
    `INSERT INTO lockstep.upload_transactions (transaction_id, user_id, client_id, state, write_checkpoint, error) VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (transaction_id) DO UPDATE SET state = EXCLUDED.state, write_checkpoint = EXCLUDED.write_checkpoint, error = EXCLUDED.error, updated_at = now()
       WHERE lockstep.upload_transactions.user_id = EXCLUDED.user_id`,
    [transactionId, userId, clientId, outcome.state, outcome.state === 'applied' ? outcome.writeCheckpoint : null, outcome.state === 'rejected' ? JSON.stringify(outcome.error) : null],
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
