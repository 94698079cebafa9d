import type { SqlDatabase } from '../db/database';
import { quoteIdent, storeTableOf } from './layout';
import { setMeta } from './meta';

/** The checkpoint being applied, as the store records it. */
export interface AppliedCheckpoint {
  lastOpId: string;
  writeCheckpoint: string | null;
  /** When it was applied (ms since the epoch). */
  at: number;
}

/**
 * Brings the store tables to the state of the oplog: each touched row gets the data of its
 * newest PUT in any bucket that holds it, or is deleted when no bucket does. Runs inside the
 * caller's transaction, so a checkpoint's rows appear all at once. Returns the client tables
 * whose rows may have changed.
 *
 * Tables in bulk mode (their store was empty when their ops arrived: a first sync) are filled
 * straight from the oplog in key order, which is several times faster than the per-row upsert.
 */
export function applyTouchedRows(db: SqlDatabase, checkpoint: AppliedCheckpoint): string[] {
  const bulk = db.all<{ tbl: string }>('SELECT tbl FROM ls_bulk').map((r) => r.tbl);
  for (const table of bulk) {
    const store = quoteIdent(storeTableOf(table));
    db.run(`CREATE TABLE IF NOT EXISTS ${store} (id TEXT PRIMARY KEY NOT NULL, data TEXT NOT NULL)`);
    // Rows written locally meanwhile are replaced: a checkpoint is applied only when none are pending.
    db.run(`DELETE FROM ${store}`);
    // SQLite: with max(), the bare columns come from the row holding the maximum.
    db.run(`INSERT INTO ${store} (id, data) SELECT row_id, data FROM (SELECT row_id, data, max(op_id) FROM ls_oplog WHERE tbl = ? GROUP BY row_id)`, [table]);
  }
  const touched = db.all<{ tbl: string }>('SELECT DISTINCT tbl FROM ls_touched').map((r) => r.tbl).filter((t) => !bulk.includes(t));
  for (const table of touched) {
    const store = quoteIdent(storeTableOf(table));
    db.run(`CREATE TABLE IF NOT EXISTS ${store} (id TEXT PRIMARY KEY NOT NULL, data TEXT NOT NULL)`);
    db.run(
      `INSERT INTO ${store} (id, data)
         SELECT row_id, data FROM (
           SELECT o.row_id, o.data, max(o.op_id) FROM ls_oplog o
            WHERE o.tbl = ?1 AND o.row_id IN (SELECT row_id FROM ls_touched WHERE tbl = ?1)
            GROUP BY o.row_id) WHERE true
       ON CONFLICT (id) DO UPDATE SET data = excluded.data WHERE data IS NOT excluded.data`,
      [table],
    );
    db.run(`DELETE FROM ${store} WHERE id IN (SELECT row_id FROM ls_touched WHERE tbl = ?1) AND NOT EXISTS (SELECT 1 FROM ls_oplog o WHERE o.tbl = ?1 AND o.row_id = ${store}.id)`, [table]);
  }
  db.run('DELETE FROM ls_touched');
  db.run('DELETE FROM ls_bulk');
  setMeta(db, 'applied_op_id', checkpoint.lastOpId);
  setMeta(db, 'write_checkpoint', checkpoint.writeCheckpoint);
  setMeta(db, 'last_synced_at', String(checkpoint.at));
  return [...bulk, ...touched];
}
