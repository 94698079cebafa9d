import { inTransaction, type SqlDatabase } from '../db/database';
import { quoteIdent, stageTableOf, STORE_PREFIX, tableOfStore } from './layout';
import { getMeta, setMeta } from './meta';

/**
 * Which buckets hold a row: its oplog entries (`ls_oplog`), plus one the row itself may carry.
 * A store or stage row's `bucket` and `op_id` columns, when `bucket` is set, stand for the entry
 * (table, id, bucket, op_id, data '') of that bucket: "this bucket holds the row; the row's data
 * is its newest PUT". A first sync writes each row once, with its bucket, and no oplog entry at
 * all (storage/oplog.ts); later ops keep explicit oplog entries as before. Every path that removes
 * a holder clears both kinds (a REMOVE, forgetting a bucket, a local DELETE through a view).
 */

/** The store table's columns for the bucket it carries (ALTER TABLE ADD COLUMN: no rewrite). */
export const HOLDER_COLUMNS = 'op_id INTEGER, bucket TEXT';

/** The store tables present (their client table names). */
export function storeTables(db: SqlDatabase): string[] {
  return db
    .all<{ name: string }>("SELECT name FROM sqlite_schema WHERE type = 'table' AND name LIKE ? ESCAPE '\\'", [`${STORE_PREFIX.replace(/_/g, '\\_')}%`])
    .map((r) => tableOfStore(r.name))
    .filter((t): t is string => t !== undefined);
}

/** Gives every store table the holder columns (a store made by the client schema has only id and data). */
export function ensureHolderColumns(db: SqlDatabase): void {
  const missing: string[] = [];
  for (const table of storeTables(db)) {
    const name = `${STORE_PREFIX}${table}`;
    const columns = new Set(db.all<{ name: string }>('SELECT name FROM pragma_table_info(?)', [name]).map((c) => c.name));
    if (!columns.has('op_id')) missing.push(`ALTER TABLE ${quoteIdent(name)} ADD COLUMN op_id INTEGER`);
    if (!columns.has('bucket')) missing.push(`ALTER TABLE ${quoteIdent(name)} ADD COLUMN bucket TEXT`);
  }
  if (missing.length === 0) return;
  inTransaction(db, () => {
    for (const sql of missing) db.run(sql);
  });
}

/**
 * A database from before rows carried their bucket: every holder is an oplog entry there, and the
 * op_id/bucket columns a first sync's stage left in a store are stale (not kept up to date by
 * REMOVEs): they are cleared. A first sync still in bulk mode then is restarted: its stage is
 * dropped and the buckets with rows in it download again (the store of a bulk table is empty, so
 * nothing shown is lost; the upload queue and every other position stay). Runs once, in one
 * transaction.
 */
export function migrateRowHolders(db: SqlDatabase, resetBucket: (db: SqlDatabase, bucket: string) => void): void {
  if (getMeta(db, 'row_holders') === 'store') return;
  inTransaction(db, () => {
    ensureHolderColumns(db);
    for (const table of storeTables(db)) db.run(`UPDATE ${quoteIdent(`${STORE_PREFIX}${table}`)} SET op_id = NULL, bucket = NULL WHERE bucket IS NOT NULL OR op_id IS NOT NULL`);
    const bulk = db.all<{ tbl: string }>('SELECT tbl FROM ls_bulk').map((r) => r.tbl);
    const restart = new Set<string>();
    for (const table of bulk) {
      for (const { bucket } of db.all<{ bucket: string }>('SELECT DISTINCT bucket FROM ls_oplog WHERE tbl = ?', [table])) restart.add(bucket);
      db.run(`DROP TABLE IF EXISTS ${quoteIdent(stageTableOf(table))}`);
      db.run('DELETE FROM ls_bulk WHERE tbl = ?', [table]);
    }
    for (const bucket of restart) resetBucket(db, bucket);
    setMeta(db, 'row_holders', 'store');
  });
}
