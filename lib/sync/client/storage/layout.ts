import { inTransaction, type SqlDatabase } from '../db/database';

/**
 * The sync client's own tables, next to the store tables (`ls_data__<table>`) and the views of
 * the client schema. Nothing here is ever migrated: a database with another LAYOUT_VERSION is
 * emptied and downloaded again, which is always correct because Postgres holds the truth.
 *
 * - ls_meta: client id, rules version, the applied checkpoint, when it was applied, view names.
 * - ls_buckets: per bucket, the download position (last op id stored), the running checksum of
 *   every op stored up to it, and the op count (for progress).
 * - ls_oplog: per bucket, the latest PUT of each row it holds (superseded ops are dropped on
 *   arrival; their checksums live on in ls_buckets.checksum). Keyed (table, row id, bucket), so
 *   "which buckets hold this row" is one index range. There is no index by bucket: dropping or
 *   clearing a bucket (rare) scans, which keeps every insert of a large download cheaper. A row
 *   may also carry one holding bucket itself (storage/holders.ts): a first sync's rows have no
 *   oplog entry at all.
 * - ls_touched: rows whose oplog entries changed since the last applied checkpoint (duplicates
 *   allowed: appending is cheaper than a unique insert); the next apply recomputes exactly these.
 * - ls_bulk: tables whose store was empty when ops for them arrived (a first sync). Their rows
 *   are written once, into a staging copy of the store (`ls_stage__<table>`, WITHOUT ROWID),
 *   which the next apply renames into place, and are not listed in ls_touched. Each staged row
 *   carries the bucket and op id that supplied it (the newest op of the row: pages arrive in
 *   bucket order), in place of an oplog entry; a bucket that holds the row without supplying it
 *   gets an oplog entry with data '' ("the stage holds it"). ls_stage_buckets lists the buckets
 *   that staged rows of each table, so a first sync of one bucket skips looking for shared rows.
 *   Store tables have the same op_id and bucket columns.
 * - ls_requests: writes made for other tabs, by request key, so a write retried after the leader
 *   tab changed is applied once (kept an hour).
 * - ls_upload_queue / ls_upload_ops: the upload queue (docs/writes.md#the-client-half): one entry
 *   per local transaction (its uuid, order, state `pending` → `acked` with the write checkpoint
 *   the server returned), and its ops in order. ls_upload_current (a TEMP table, writes/triggers.ts)
 *   holds the id of the local transaction being written (the view triggers read it; empty outside
 *   a local transaction).
 * - Row data (store, stage, oplog, ls_server_rows) is JSONB; the queue's ops keep JSON text
 *   (storage/data-format.ts converts a database from before in place, without a layout change).
 * - ls_server_rows: the server's copy of each row written locally since the last checkpoint was
 *   applied (data NULL: the row did not exist), so a rejected transaction can be undone at once.
 * - ls_rejected: transactions the server refused, with its error, until the app clears them.
 */
export const LAYOUT_VERSION = 1;

export const STORE_PREFIX = 'ls_data__';

const CREATE = `
CREATE TABLE IF NOT EXISTS ls_meta (key TEXT PRIMARY KEY NOT NULL, value TEXT) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ls_buckets (
  name TEXT PRIMARY KEY NOT NULL,
  position INTEGER NOT NULL DEFAULT 0,
  checksum INTEGER NOT NULL DEFAULT 0,
  op_count INTEGER NOT NULL DEFAULT 0,
  priority INTEGER NOT NULL DEFAULT 3
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ls_oplog (
  tbl TEXT NOT NULL,
  row_id TEXT NOT NULL,
  bucket TEXT NOT NULL,
  op_id INTEGER NOT NULL,
  data TEXT NOT NULL,
  PRIMARY KEY (tbl, row_id, bucket)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ls_touched (tbl TEXT NOT NULL, row_id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ls_bulk (tbl TEXT PRIMARY KEY NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ls_stage_buckets (tbl TEXT NOT NULL, bucket TEXT NOT NULL, PRIMARY KEY (tbl, bucket)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ls_requests (key TEXT PRIMARY KEY NOT NULL, result TEXT NOT NULL, at INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ls_upload_queue (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  tx_id TEXT NOT NULL UNIQUE,
  state TEXT NOT NULL DEFAULT 'pending',
  write_checkpoint TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS ls_upload_ops (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  tx_id TEXT NOT NULL,
  op TEXT NOT NULL,
  tbl TEXT NOT NULL,
  row_id TEXT NOT NULL,
  data TEXT
);
CREATE INDEX IF NOT EXISTS ls_upload_ops_tx ON ls_upload_ops (tx_id);
CREATE TEMP TABLE IF NOT EXISTS ls_upload_current (tx_id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ls_server_rows (tbl TEXT NOT NULL, row_id TEXT NOT NULL, data TEXT, PRIMARY KEY (tbl, row_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ls_rejected (
  tx_id TEXT PRIMARY KEY NOT NULL,
  ops TEXT NOT NULL,
  error TEXT NOT NULL,
  rejected_at INTEGER NOT NULL
) WITHOUT ROWID;
`;

/** Creates the client's tables, or empties a database of another layout first. */
export function ensureLayout(db: SqlDatabase): void {
  const version = Number(db.get<{ user_version: number }>('PRAGMA user_version')?.user_version ?? 0);
  if (version !== 0 && version !== LAYOUT_VERSION) dropEverything(db);
  db.script(CREATE);
  if (version !== LAYOUT_VERSION) db.script(`PRAGMA user_version = ${LAYOUT_VERSION}`);
}

/** Drops every table, view and trigger this client created: ls_* tables and the views over them. */
export function dropEverything(db: SqlDatabase): void {
  const views = readMeta(db, 'views');
  const objects = db.all<{ type: string; name: string }>("SELECT type, name FROM sqlite_schema WHERE name LIKE 'ls\\_%' ESCAPE '\\' AND type IN ('table', 'view')");
  inTransaction(db, () => {
    for (const name of views ? (JSON.parse(views) as string[]) : []) db.run(`DROP VIEW IF EXISTS ${quoteIdent(name)}`);
    for (const o of objects) db.run(`DROP ${o.type === 'view' ? 'VIEW' : 'TABLE'} IF EXISTS ${quoteIdent(o.name)}`);
  });
}

function readMeta(db: SqlDatabase, key: string): string | null {
  const exists = db.get("SELECT 1 AS x FROM sqlite_schema WHERE type = 'table' AND name = 'ls_meta'");
  if (!exists) return null;
  return (db.get<{ value: string | null }>('SELECT value FROM ls_meta WHERE key = ?', [key])?.value as string | null | undefined) ?? null;
}

/** SQLite identifier quoting: double quotes, doubled inside. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** The store table of a client table. */
export function storeTableOf(table: string): string {
  return `${STORE_PREFIX}${table}`;
}

/** The staging copy a table's rows are written to while it is in bulk mode. */
export function stageTableOf(table: string): string {
  return `ls_stage__${table}`;
}

/** The client table a store table holds, or undefined for any other table. */
export function tableOfStore(name: string): string | undefined {
  return name.startsWith(STORE_PREFIX) ? name.slice(STORE_PREFIX.length) : undefined;
}
