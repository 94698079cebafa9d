import type { UploadErrorBody, UploadOp, UploadTransaction } from '@/lib/sync/protocol';
import type { SqlDatabase, SqlValue } from '../db/database';
import { quoteIdent, storeTableOf } from '../storage/layout';

/**
 * The upload queue's tables (storage/layout.ts): every function runs in the database's thread
 * and, where it writes, inside the caller's transaction.
 */

/** An entry of the upload queue: one local transaction. */
export interface QueueEntry {
  seq: number;
  transaction: UploadTransaction;
  state: 'pending' | 'acked';
  writeCheckpoint: string | null;
  attempts: number;
}

/** A transaction the server refused, as ls_rejected keeps it. */
export interface RejectedWrite {
  transactionId: string;
  ops: UploadOp[];
  error: UploadErrorBody;
  rejectedAt: number;
}

/** Starts a local transaction's queue entry: the view triggers append its ops under `txId`. */
export function beginLocalTransaction(db: SqlDatabase, txId: string): void {
  db.run('DELETE FROM ls_upload_current');
  db.run('INSERT INTO ls_upload_current (tx_id) VALUES (?)', [txId]);
}

/** Ends it: the entry joins the queue when the transaction wrote anything. Returns whether it did. */
export function endLocalTransaction(db: SqlDatabase, txId: string, now: number): boolean {
  db.run('DELETE FROM ls_upload_current');
  if (!db.get('SELECT 1 AS x FROM ls_upload_ops WHERE tx_id = ? LIMIT 1', [txId])) return false;
  db.run('INSERT INTO ls_upload_queue (tx_id, created_at) VALUES (?, ?)', [txId, now]);
  return true;
}

function opsOf(db: SqlDatabase, txId: string): UploadOp[] {
  return db.all<{ op: string; tbl: string; row_id: string; data: string | null }>('SELECT op, tbl, row_id, data FROM ls_upload_ops WHERE tx_id = ? ORDER BY seq', [txId]).map((r) =>
    r.op === 'DELETE' ? { op: 'DELETE', table: r.tbl, id: r.row_id } : { op: r.op as 'PUT' | 'PATCH', table: r.tbl, id: r.row_id, data: JSON.parse(r.data ?? '{}') as Record<string, unknown> },
  );
}

type EntryRow = { seq: number; tx_id: string; state: string; write_checkpoint: string | null; attempts: number };

function toEntry(db: SqlDatabase, row: EntryRow): QueueEntry {
  return { seq: Number(row.seq), transaction: { id: row.tx_id, ops: opsOf(db, row.tx_id) }, state: row.state as QueueEntry['state'], writeCheckpoint: row.write_checkpoint, attempts: Number(row.attempts) };
}

/** The oldest entry not yet acknowledged by the server (the next to upload). */
export function nextPending(db: SqlDatabase): QueueEntry | undefined {
  const row = db.get<EntryRow>("SELECT seq, tx_id, state, write_checkpoint, attempts FROM ls_upload_queue WHERE state = 'pending' ORDER BY seq LIMIT 1");
  return row ? toEntry(db, row) : undefined;
}

/** Every entry, oldest first. */
export function queueEntries(db: SqlDatabase): QueueEntry[] {
  return db.all<EntryRow>('SELECT seq, tx_id, state, write_checkpoint, attempts FROM ls_upload_queue ORDER BY seq').map((r) => toEntry(db, r));
}

export function queueCounts(db: SqlDatabase): { total: number; pending: number } {
  const row = db.get<{ total: number; pending: number }>("SELECT count(*) AS total, coalesce(sum(state = 'pending'), 0) AS pending FROM ls_upload_queue");
  return { total: Number(row?.total ?? 0), pending: Number(row?.pending ?? 0) };
}

export function countAttempt(db: SqlDatabase, txId: string): void {
  db.run('UPDATE ls_upload_queue SET attempts = attempts + 1 WHERE tx_id = ?', [txId]);
}

/** The server applied the transaction: it stays until a checkpoint at or past `writeCheckpoint` is applied. */
export function markAcked(db: SqlDatabase, txId: string, writeCheckpoint: string): void {
  db.run("UPDATE ls_upload_queue SET state = 'acked', write_checkpoint = ? WHERE tx_id = ?", [writeCheckpoint, txId]);
}

/**
 * Whether a checkpoint carrying `writeCheckpoint` contains every local write: nothing is waiting
 * to be uploaded, and every acknowledged entry's write checkpoint is at or before it.
 */
export function coveredBy(db: SqlDatabase, writeCheckpoint: string | null): boolean {
  const { pending } = queueCounts(db);
  if (pending > 0 || db.get('SELECT 1 AS x FROM ls_upload_current LIMIT 1')) return false;
  const acked = db.all<{ wc: string }>("SELECT write_checkpoint AS wc FROM ls_upload_queue WHERE state = 'acked'");
  if (acked.length === 0) return true;
  if (writeCheckpoint === null) return false;
  const at = BigInt(writeCheckpoint);
  return acked.every((r) => BigInt(r.wc) <= at);
}

/**
 * After a checkpoint was applied (only ever when coveredBy allowed it): the entries it covers
 * leave the queue, and once the queue is empty the local rows equal the server's, so the server
 * copies are forgotten.
 */
export function dropCovered(db: SqlDatabase, writeCheckpoint: string | null): number {
  const covered = db.all<{ tx_id: string; wc: string }>("SELECT tx_id, write_checkpoint AS wc FROM ls_upload_queue WHERE state = 'acked'").filter((r) => writeCheckpoint !== null && BigInt(r.wc) <= BigInt(writeCheckpoint));
  for (const r of covered) {
    db.run('DELETE FROM ls_upload_ops WHERE tx_id = ?', [r.tx_id]);
    db.run('DELETE FROM ls_upload_queue WHERE tx_id = ?', [r.tx_id]);
  }
  if (!db.get('SELECT 1 AS x FROM ls_upload_queue LIMIT 1')) db.run('DELETE FROM ls_server_rows');
  return covered.length;
}

/**
 * The server refused the transaction: it leaves the queue for ls_rejected, and every row it
 * touched is derived again from the server's copy with the still-queued transactions replayed
 * on top (so the app's other local writes stay). Returns the client tables changed.
 */
export function rejectEntry(db: SqlDatabase, entry: QueueEntry, error: UploadErrorBody, now: number): string[] {
  const txId = entry.transaction.id;
  db.run('INSERT OR REPLACE INTO ls_rejected (tx_id, ops, error, rejected_at) VALUES (?, ?, ?, ?)', [txId, JSON.stringify(entry.transaction.ops), JSON.stringify(error), now]);
  db.run('DELETE FROM ls_upload_ops WHERE tx_id = ?', [txId]);
  db.run('DELETE FROM ls_upload_queue WHERE tx_id = ?', [txId]);
  const rows = new Map<string, { table: string; id: string }>();
  for (const op of entry.transaction.ops) rows.set(`${op.table}\u0000${op.id}`, { table: op.table, id: op.id });
  const tables = new Set<string>();
  for (const { table, id } of rows.values()) {
    // data: as the store keeps it (JSONB; JSON text in a database from before); text: as JSON text.
    const server = db.get<{ data: SqlValue; text: string | null }>('SELECT data, json(data) AS text FROM ls_server_rows WHERE tbl = ? AND row_id = ?', [table, id]);
    // No server copy: the row was never written locally before this transaction (cannot happen
    // through the triggers); leave it for the next checkpoint, which recomputes touched rows.
    if (!server) continue;
    let data = server.text === null ? null : (JSON.parse(server.text) as Record<string, unknown>);
    const later = db.all<{ op: string; data: string | null }>('SELECT op, data FROM ls_upload_ops WHERE tbl = ? AND row_id = ? ORDER BY seq', [table, id]);
    for (const op of later) {
      if (op.op === 'DELETE') data = null;
      else if (op.op === 'PUT') data = JSON.parse(op.data ?? '{}') as Record<string, unknown>;
      else if (data !== null) data = { ...data, ...(JSON.parse(op.data ?? '{}') as Record<string, unknown>) };
    }
    const store = quoteIdent(storeTableOf(table));
    // Unchanged server copies go back byte for byte (the next checkpoint compares the data).
    if (later.length === 0 ? server.data === null : data === null) db.run(`DELETE FROM ${store} WHERE id = ?`, [id]);
    else if (later.length === 0) db.run(`INSERT INTO ${store} (id, data) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET data = excluded.data`, [id, server.data]);
    else db.run(`INSERT INTO ${store} (id, data) VALUES (?, jsonb(?)) ON CONFLICT (id) DO UPDATE SET data = excluded.data`, [id, JSON.stringify(data)]);
    tables.add(table);
  }
  return [...tables];
}

/** Rejected transactions, newest first. */
export function rejectedWrites(db: SqlDatabase): RejectedWrite[] {
  return db.all<{ tx_id: string; ops: string; error: string; rejected_at: number }>('SELECT tx_id, ops, error, rejected_at FROM ls_rejected ORDER BY rejected_at DESC, tx_id').map((r) => ({
    transactionId: r.tx_id,
    ops: JSON.parse(r.ops) as UploadOp[],
    error: JSON.parse(r.error) as UploadErrorBody,
    rejectedAt: Number(r.rejected_at),
  }));
}

/** Forgets rejected transactions (all, or those ids) once the app has shown them. */
export function dismissRejected(db: SqlDatabase, ids?: readonly string[]): number {
  if (!ids) return db.run('DELETE FROM ls_rejected');
  let n = 0;
  for (const id of ids) n += db.run('DELETE FROM ls_rejected WHERE tx_id = ?', [id]);
  return n;
}
