import type { SqlDatabase } from '../db/database';
import { HOLDER_COLUMNS } from './holders';
import { quoteIdent, stageTableOf, storeTableOf } from './layout';
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
 * newest PUT in any bucket that holds it, or is deleted when no bucket does. A PUT stored in bulk
 * mode has data '' (the store holds it since that apply): the row keeps the store's data, or gets
 * the server's copy back (ls_server_rows) when it was written locally since. Runs inside the
 * caller's transaction, so a checkpoint's rows appear all at once. Returns the client tables
 * whose rows may have changed.
 *
 * Tables in bulk mode (their store was empty when their ops arrived: a first sync) get their
 * staging copy renamed into place: their rows are written once in all.
 */
export function applyTouchedRows(db: SqlDatabase, checkpoint: AppliedCheckpoint): string[] {
  const bulk = db.all<{ tbl: string }>('SELECT tbl FROM ls_bulk').map((r) => r.tbl);
  for (const table of bulk) {
    const store = quoteIdent(storeTableOf(table));
    // Rows written locally meanwhile are replaced: a checkpoint is applied only when none are pending.
    if (db.get("SELECT 1 AS x FROM sqlite_schema WHERE type = 'table' AND name = ?", [stageTableOf(table)])) {
      // The staging copy becomes the store. Legacy mode renames without re-checking the views
      // over the store (which point at the dropped table for a moment) and keeps their triggers.
      db.run('PRAGMA legacy_alter_table = ON');
      try {
        db.run(`DROP TABLE IF EXISTS ${store}`);
        db.run(`ALTER TABLE ${quoteIdent(stageTableOf(table))} RENAME TO ${store}`);
      } finally {
        db.run('PRAGMA legacy_alter_table = OFF');
      }
      continue;
    }
    db.run(`CREATE TABLE IF NOT EXISTS ${store} (id TEXT PRIMARY KEY NOT NULL, data TEXT NOT NULL, ${HOLDER_COLUMNS})`);
    db.run(`DELETE FROM ${store}`);
    // SQLite: with max(), the bare columns come from the row holding the maximum.
    db.run(`INSERT INTO ${store} (id, data) SELECT row_id, data FROM (SELECT row_id, data, max(op_id) FROM ls_oplog WHERE tbl = ? GROUP BY row_id) WHERE data <> ''`, [table]);
  }
  const touched = db.all<{ tbl: string }>('SELECT DISTINCT tbl FROM ls_touched').map((r) => r.tbl).filter((t) => !bulk.includes(t));
  for (const table of touched) {
    const store = quoteIdent(storeTableOf(table));
    db.run(`CREATE TABLE IF NOT EXISTS ${store} (id TEXT PRIMARY KEY NOT NULL, data TEXT NOT NULL, ${HOLDER_COLUMNS})`);
    // A row's holders: its oplog entries and the bucket the row carries (storage/holders.ts). Data
    // '' (and a carried bucket) means the store's data, or the server's copy if written locally.
    const serverCopy = (id: string) => `(SELECT s.data FROM ls_server_rows s WHERE s.tbl = ?1 AND s.row_id = ${id})`;
    db.run(
      `INSERT INTO ${store} (id, data)
         SELECT row_id, data FROM (
           SELECT row_id, data, max(op_id) FROM (
             SELECT o.row_id, o.op_id, CASE WHEN o.data <> '' THEN o.data ELSE ${serverCopy('o.row_id')} END AS data FROM ls_oplog o
              WHERE o.tbl = ?1 AND o.row_id IN (SELECT row_id FROM ls_touched WHERE tbl = ?1)
             UNION ALL
             SELECT c.id, c.op_id, ${serverCopy('c.id')} FROM ${store} c
              WHERE c.bucket IS NOT NULL AND c.id IN (SELECT row_id FROM ls_touched WHERE tbl = ?1))
           GROUP BY row_id) WHERE data IS NOT NULL
       ON CONFLICT (id) DO UPDATE SET data = excluded.data WHERE data IS NOT excluded.data`,
      [table],
    );
    db.run(
      `DELETE FROM ${store} WHERE id IN (SELECT row_id FROM ls_touched WHERE tbl = ?1) AND bucket IS NULL AND NOT EXISTS (SELECT 1 FROM ls_oplog o WHERE o.tbl = ?1 AND o.row_id = ${store}.id)`,
      [table],
    );
  }
  db.run('DELETE FROM ls_touched');
  db.run('DELETE FROM ls_bulk');
  db.run('DELETE FROM ls_stage_buckets');
  setMeta(db, 'applied_op_id', checkpoint.lastOpId);
  setMeta(db, 'write_checkpoint', checkpoint.writeCheckpoint);
  setMeta(db, 'last_synced_at', String(checkpoint.at));
  return [...bulk, ...touched];
}
