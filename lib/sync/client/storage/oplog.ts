import { addChecksums } from '@/lib/sync/protocol';
import type { SqlDatabase } from '../db/database';
import { HOLDER_COLUMNS, storeTables } from './holders';
import { quoteIdent, stageTableOf, storeTableOf } from './layout';
import type { PreparedPage } from './pages';

/** A bucket as stored: how far it is downloaded and the checksum of what was downloaded. */
export interface LocalBucket {
  name: string;
  /** Last op id stored (0: nothing). */
  position: number;
  /** Sum of the checksums of every op stored up to `position`, mod 2^32. */
  checksum: number;
  /** Ops stored since the bucket was (re)started; for progress only. */
  opCount: number;
  priority: number;
}

export function readBuckets(db: SqlDatabase): Map<string, LocalBucket> {
  const rows = db.all<{ name: string; position: number; checksum: number; op_count: number; priority: number }>('SELECT name, position, checksum, op_count, priority FROM ls_buckets');
  return new Map(rows.map((r) => [r.name, { name: r.name, position: Number(r.position), checksum: Number(r.checksum), opCount: Number(r.op_count), priority: Number(r.priority) }]));
}

/**
 * Marks every row the bucket holds as touched and forgets them (the next apply recomputes them):
 * its oplog entries, and the rows that carry it (storage/holders.ts). Rows this bucket supplied to
 * a staging copy (bulk mode) leave it; other buckets that hold any of those rows are restarted
 * too, since their oplog entries have no data to supply them again.
 */
function forgetRows(db: SqlDatabase, bucket: string, restarted = new Set<string>()): void {
  restarted.add(bucket);
  const bulk = db.all<{ tbl: string }>('SELECT tbl FROM ls_bulk').map((r) => r.tbl);
  db.run('INSERT INTO ls_touched (tbl, row_id) SELECT tbl, row_id FROM ls_oplog WHERE bucket = ? AND tbl NOT IN (SELECT tbl FROM ls_bulk)', [bucket]);
  for (const table of storeTables(db)) {
    if (bulk.includes(table)) continue;
    const store = quoteIdent(storeTableOf(table));
    // A scan of the store (no index by bucket keeps a first sync's inserts cheaper): rare.
    if (db.run(`INSERT INTO ls_touched (tbl, row_id) SELECT ?1, id FROM ${store} WHERE bucket = ?2`, [table, bucket]) > 0) {
      db.run(`UPDATE ${store} SET bucket = NULL, op_id = NULL WHERE bucket = ?`, [bucket]);
    }
  }
  const others = new Set<string>();
  for (const table of bulk) {
    const stage = quoteIdent(stageTableOf(table));
    for (const { bucket: other } of db.all<{ bucket: string }>(`SELECT DISTINCT o.bucket FROM ${stage} s JOIN ls_oplog o ON o.tbl = ?1 AND o.row_id = s.id WHERE s.bucket = ?2 AND o.bucket <> ?2`, [table, bucket])) others.add(other);
    db.run(`DELETE FROM ${stage} WHERE bucket = ?`, [bucket]);
    // Staged rows whose supplier was removed, kept for this bucket's entries alone.
    db.run(
      `DELETE FROM ${stage} WHERE bucket IS NULL AND id IN (SELECT row_id FROM ls_oplog WHERE tbl = ?1 AND bucket = ?2)
         AND NOT EXISTS (SELECT 1 FROM ls_oplog o WHERE o.tbl = ?1 AND o.row_id = ${stage}.id AND o.bucket <> ?2)`,
      [table, bucket],
    );
    db.run('DELETE FROM ls_stage_buckets WHERE tbl = ? AND bucket = ?', [table, bucket]);
  }
  db.run('DELETE FROM ls_oplog WHERE bucket = ?', [bucket]);
  for (const other of others) {
    if (restarted.has(other)) continue;
    forgetRows(db, other, restarted);
    db.run('UPDATE ls_buckets SET position = 0, checksum = 0, op_count = 0 WHERE name = ?', [other]);
  }
}

/**
 * Puts the tables of a page whose store is empty (or missing) and that no bucket holds rows of in
 * bulk mode (storage/layout.ts), with an empty staging copy. Returns the page's tables in bulk mode.
 */
function markBulkTables(db: SqlDatabase, tables: ReadonlySet<string>): string[] {
  const bulk: string[] = [];
  for (const table of tables) {
    if (db.get('SELECT 1 AS x FROM ls_bulk WHERE tbl = ?', [table])) {
      bulk.push(table);
      continue;
    }
    const exists = db.get("SELECT 1 AS x FROM sqlite_schema WHERE type = 'table' AND name = ?", [storeTableOf(table)]);
    if (exists && db.get(`SELECT 1 AS x FROM ${quoteIdent(storeTableOf(table))} LIMIT 1`)) continue;
    if (db.get('SELECT 1 AS x FROM ls_oplog WHERE tbl = ? LIMIT 1', [table])) continue;
    const stage = quoteIdent(stageTableOf(table));
    db.run(`DROP TABLE IF EXISTS ${stage}`);
    db.run('DELETE FROM ls_stage_buckets WHERE tbl = ?', [table]);
    // op_id, bucket: the op that supplied the row's data and its bucket, which holds the row
    // without an oplog entry (storage/holders.ts). Rows reach the stage in bucket order, not op
    // order: of a row in several buckets the newest op wins. WITHOUT ROWID: one b-tree, not a
    // table and an index on id (a first sync writes about half the bytes).
    db.run(`CREATE TABLE ${stage} (id TEXT PRIMARY KEY NOT NULL, data TEXT NOT NULL, ${HOLDER_COLUMNS}) WITHOUT ROWID`);
    db.run('INSERT INTO ls_bulk (tbl) VALUES (?)', [table]);
    bulk.push(table);
  }
  return bulk;
}

/** Deletes buckets the user no longer has. Their rows leave the store tables at the next apply. */
export function deleteBuckets(db: SqlDatabase, names: Iterable<string>): void {
  for (const name of names) {
    forgetRows(db, name);
    db.run('DELETE FROM ls_buckets WHERE name = ?', [name]);
  }
}

/** Empties a bucket and restarts it from position 0 (after a checksum mismatch, or a restarted download). */
export function resetBucket(db: SqlDatabase, name: string): void {
  forgetRows(db, name);
  db.run('UPDATE ls_buckets SET position = 0, checksum = 0, op_count = 0 WHERE name = ?', [name]);
}

/** Creates the bucket rows that do not exist yet and records each bucket's priority. */
export function upsertBuckets(db: SqlDatabase, buckets: ReadonlyArray<{ bucket: string; priority: number }>): void {
  for (const b of buckets) {
    db.run('INSERT INTO ls_buckets (name, priority) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET priority = excluded.priority WHERE priority IS NOT excluded.priority', [b.bucket, b.priority]);
  }
}

/**
 * The PUTs of a page. Rows of tables in bulk mode go to their staging copy only (see
 * stagePuts); the others get an oplog entry with their data and are queued for the next apply.
 * Row data is kept as JSONB: the views' json_extract reads it without parsing text (~2.5x faster
 * queries), and jsonb_each hands each row's data over as the JSONB it parsed.
 */
function storePuts(db: SqlDatabase, puts: string, page: PreparedPage, bulk: readonly string[], repaired: boolean): void {
  // jsonb_extract gives objects as JSONB but a string as SQL text, which the views could not read:
  // a repaired page (data put in as strings) converts each row's JSON instead.
  const data = repaired ? 'jsonb(value -> 3)' : "jsonb_extract(value, '$[3]')";
  if (bulk.length < page.tables.size) {
    db.run(
      `INSERT INTO ls_oplog (tbl, row_id, bucket, op_id, data)
         SELECT value ->> 0, value ->> 1, ?2, value ->> 2, ${data} FROM jsonb_each(?1) WHERE value ->> 0 NOT IN (SELECT tbl FROM ls_bulk)
       ON CONFLICT (tbl, row_id, bucket) DO UPDATE SET op_id = excluded.op_id, data = excluded.data`,
      [puts, page.bucket],
    );
    db.run('INSERT INTO ls_touched (tbl, row_id) SELECT value ->> 0, value ->> 1 FROM json_each(?) WHERE value ->> 0 NOT IN (SELECT tbl FROM ls_bulk)', [page.putKeys()]);
  }
  for (const table of bulk) stagePuts(db, puts, data, page, table);
}

/**
 * A page's PUTs of one table in bulk mode: each row goes to the stage with its op id and bucket,
 * and no oplog entry (storage/holders.ts), so a first sync writes each row once. When another
 * bucket already staged rows of this table, a row may be in both: the newest op supplies the
 * row, and the bucket that does not supply it keeps an oplog entry with data '' (the stage holds
 * the data), so forgetting either bucket still knows the other holds the row.
 */
function stagePuts(db: SqlDatabase, puts: string, data: string, page: PreparedPage, table: string): void {
  const stage = quoteIdent(stageTableOf(table));
  // (An upsert's SELECT needs a WHERE: without one, ON CONFLICT would parse as a join's ON.)
  const only = page.tables.size === 1 ? 'WHERE true' : 'WHERE value ->> 0 = ?2';
  const shared = db.get('SELECT 1 AS x FROM ls_stage_buckets WHERE tbl = ? AND bucket <> ? LIMIT 1', [table, page.bucket]) !== undefined;
  db.run('INSERT INTO ls_stage_buckets (tbl, bucket) VALUES (?, ?) ON CONFLICT DO NOTHING', [table, page.bucket]);
  if (shared) {
    const incoming = `SELECT value ->> 1 AS id, value ->> 2 AS op_id FROM jsonb_each(?1) WHERE value ->> 0 = ?2`;
    // A newer op replaces the row's supplier, which stays a holder through an oplog entry…
    db.run(
      `INSERT INTO ls_oplog (tbl, row_id, bucket, op_id, data)
         SELECT ?2, s.id, s.bucket, s.op_id, '' FROM (${incoming}) i JOIN ${stage} s ON s.id = i.id WHERE s.bucket IS NOT NULL AND s.bucket <> ?3 AND i.op_id > s.op_id
       ON CONFLICT (tbl, row_id, bucket) DO UPDATE SET op_id = excluded.op_id, data = excluded.data WHERE excluded.op_id > op_id`,
      [puts, table, page.bucket],
    );
    // …and an op that is not newer makes this bucket a holder through one.
    db.run(
      `INSERT INTO ls_oplog (tbl, row_id, bucket, op_id, data)
         SELECT ?2, s.id, ?3, i.op_id, '' FROM (${incoming}) i JOIN ${stage} s ON s.id = i.id WHERE s.bucket IS NOT ?3 AND i.op_id <= s.op_id
       ON CONFLICT (tbl, row_id, bucket) DO UPDATE SET op_id = excluded.op_id, data = excluded.data`,
      [puts, table, page.bucket],
    );
  }
  db.run(
    `INSERT INTO ${stage} (id, data, op_id, bucket) SELECT value ->> 1, ${data}, value ->> 2, ?3 FROM jsonb_each(?1) ${only}
       ON CONFLICT (id) DO UPDATE SET data = excluded.data, op_id = excluded.op_id, bucket = excluded.bucket WHERE excluded.op_id > op_id`,
    [puts, table, page.bucket],
  );
}

function isMalformedJson(error: unknown): boolean {
  for (let e: unknown = error; e instanceof Error; e = e.cause) if (/malformed JSON/i.test(e.message)) return true;
  return false;
}

/**
 * Stores one prepared page: rows whose last op is a REMOVE leave the bucket's oplog, PUTs replace
 * the bucket's entry for their row, and every row touched is queued for the next apply. The page
 * must continue from the bucket's position (the caller resets the bucket when it does not).
 */
export function storePage(db: SqlDatabase, page: PreparedPage, bucket: LocalBucket): void {
  if (page.cleared) forgetRows(db, page.bucket);
  const bulk = markBulkTables(db, page.tables);
  if (page.removeCount > 0) {
    db.run('DELETE FROM ls_oplog WHERE (tbl, row_id, bucket) IN (SELECT value ->> 0, value ->> 1, ?2 FROM json_each(?1))', [page.removes, page.bucket]);
    db.run('INSERT INTO ls_touched (tbl, row_id) SELECT value ->> 0, value ->> 1 FROM json_each(?) WHERE value ->> 0 NOT IN (SELECT tbl FROM ls_bulk)', [page.removes]);
    const removed = 'id IN (SELECT value ->> 1 FROM json_each(?1) WHERE value ->> 0 = ?2)';
    for (const table of page.tables) {
      // The bucket no longer holds the row: the row stops carrying it (store or stage).
      const bulkTable = bulk.includes(table);
      const target = bulkTable ? stageTableOf(table) : storeTableOf(table);
      if (!bulkTable && !db.get("SELECT 1 AS x FROM sqlite_schema WHERE type = 'table' AND name = ?", [target])) continue;
      db.run(`UPDATE ${quoteIdent(target)} SET bucket = NULL WHERE ${removed} AND bucket = ?3`, [page.removes, table, page.bucket]);
      if (bulkTable) {
        const stage = quoteIdent(target);
        db.run(`DELETE FROM ${stage} WHERE ${removed} AND bucket IS NULL AND NOT EXISTS (SELECT 1 FROM ls_oplog o WHERE o.tbl = ?2 AND o.row_id = ${stage}.id)`, [page.removes, table]);
      }
    }
  }
  if (page.putCount > 0) {
    try {
      storePuts(db, page.puts, page, bulk, false);
    } catch (error: unknown) {
      if (!isMalformedJson(error)) throw error;
      // A row whose data is not JSON (a corrupted op, or a server bug): SQLite undid the statement;
      // store the page again with such data as a JSON string. Its bucket's checksum decides.
      const repaired = page.repairedPuts();
      page.invalidData = repaired.invalid;
      storePuts(db, repaired.puts, page, bulk, true);
    }
  }
  const checksum = page.cleared ? page.checksum : addChecksums(bucket.checksum, page.checksum);
  const opCount = bucket.opCount + page.opCount;
  const position = page.nextAfter;
  db.run('UPDATE ls_buckets SET position = ?, checksum = ?, op_count = ? WHERE name = ?', [position, checksum, opCount, page.bucket]);
  bucket.position = position;
  bucket.checksum = checksum;
  bucket.opCount = opCount;
}
