import type { ClientSchema } from '@/lib/sync/config';
import type { SqlDatabase } from '../db/database';
import { quoteIdent } from '../storage/layout';

type ClientTable = ClientSchema['tables'][number];

/** SQL string literal. */
function literal(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

/** The trigger names of a client table's view. */
export function triggerNames(table: string): string[] {
  return ['insert', 'update', 'delete'].map((kind) => `ls_write__${table}__${kind}`);
}

/**
 * INSTEAD OF triggers that make a client table's view writable. They are TEMP triggers (on the
 * main schema's views), made again each time the database is opened: they can then read the TEMP
 * table ls_upload_current, so marking a local transaction writes no page of the database file. A write through the view
 * (an app's INSERT/UPDATE/DELETE, or Drizzle's) changes the row in the store table, remembers
 * the server's copy of the row (first local write since the last checkpoint only), marks the row
 * for the next checkpoint to recompute, and appends the op to the local transaction's entry in
 * the upload queue. The transaction id comes from ls_upload_current, which SyncCore sets around
 * every write: a write outside it is refused, so no change ever misses the queue.
 */
export function writeTriggersSql(table: ClientTable): string[] {
  const view = `main.${quoteIdent(table.name)}`;
  const store = quoteIdent(table.storeTable);
  const name = literal(table.name);
  const columns = table.columns.filter((c) => c.name !== 'id');
  const [insertName, updateName, deleteName] = triggerNames(table.name).map(quoteIdent);
  const currentTx = '(SELECT tx_id FROM ls_upload_current LIMIT 1)';
  const guard = `SELECT RAISE(ABORT, 'Lockstep: write local tables through the sync client (SyncCore.execute / SyncClient.execute), so the write enters the upload queue') WHERE NOT EXISTS (SELECT 1 FROM ls_upload_current);`;
  const rememberServer = (id: string) => `INSERT OR IGNORE INTO ls_server_rows (tbl, row_id, data) VALUES (${name}, ${id}, (SELECT data FROM ${store} WHERE id = ${id}));`;
  // The bucket a row carries (storage/holders.ts) leaves with the row: it stays a holder through an oplog entry.
  const keepHolder = `INSERT INTO ls_oplog (tbl, row_id, bucket, op_id, data) SELECT ${name}, id, bucket, op_id, '' FROM ${store} WHERE id = OLD.id AND bucket IS NOT NULL
    ON CONFLICT (tbl, row_id, bucket) DO UPDATE SET op_id = excluded.op_id, data = excluded.data WHERE excluded.op_id > op_id;`;
  const touch = (id: string) => `INSERT INTO ls_touched (tbl, row_id) VALUES (${name}, ${id});`;
  const rowObject = (fn: string) => `${fn}('id', NEW.id${columns.map((c) => `, ${literal(c.name)}, NEW.${quoteIdent(c.name)}`).join('')})`;
  // The store keeps JSONB (storage/oplog.ts); the upload queue keeps the JSON text it sends.
  const fullRow = rowObject('json_object');
  const storeRow = rowObject('jsonb_object');
  const setAll = columns.length === 0 ? 'data' : `jsonb_set(data${columns.map((c) => `, ${literal(`$.${c.name}`)}, NEW.${quoteIdent(c.name)}`).join('')})`;
  const changed = columns.map((c) => `SELECT ${literal(c.name)} AS k, NEW.${quoteIdent(c.name)} AS v WHERE NEW.${quoteIdent(c.name)} IS NOT OLD.${quoteIdent(c.name)}`).join(' UNION ALL ');
  const patch = columns.length === 0 ? "'{}'" : `(SELECT json_group_object(k, v) FROM (${changed}))`;

  return [
    `CREATE TEMP TRIGGER ${insertName} INSTEAD OF INSERT ON ${view} BEGIN
  ${guard}
  SELECT RAISE(ABORT, ${literal(`Lockstep: a row of ${table.name} needs an id (make one on the client, e.g. crypto.randomUUID())`)}) WHERE NEW.id IS NULL;
  ${rememberServer('NEW.id')}
  INSERT INTO ${store} (id, data) VALUES (NEW.id, ${storeRow});
  ${touch('NEW.id')}
  INSERT INTO ls_upload_ops (tx_id, op, tbl, row_id, data) VALUES (${currentTx}, 'PUT', ${name}, NEW.id, ${fullRow});
END`,
    `CREATE TEMP TRIGGER ${updateName} INSTEAD OF UPDATE ON ${view} BEGIN
  ${guard}
  SELECT RAISE(ABORT, ${literal(`Lockstep: the id of a ${table.name} row cannot change`)}) WHERE NEW.id IS NOT OLD.id;
  ${rememberServer('OLD.id')}
  UPDATE ${store} SET data = ${setAll} WHERE id = OLD.id;
  ${touch('OLD.id')}
  INSERT INTO ls_upload_ops (tx_id, op, tbl, row_id, data) SELECT ${currentTx}, 'PATCH', ${name}, OLD.id, p FROM (SELECT ${patch} AS p) WHERE p <> '{}';
END`,
    `CREATE TEMP TRIGGER ${deleteName} INSTEAD OF DELETE ON ${view} BEGIN
  ${guard}
  ${rememberServer('OLD.id')}
  ${keepHolder}
  DELETE FROM ${store} WHERE id = OLD.id;
  ${touch('OLD.id')}
  INSERT INTO ls_upload_ops (tx_id, op, tbl, row_id, data) VALUES (${currentTx}, 'DELETE', ${name}, OLD.id, NULL);
END`,
  ];
}

/**
 * (Re)creates the write triggers of every view, and the TEMP table of the local transaction being
 * written. Databases from before keep persistent triggers and a persistent ls_upload_current
 * (empty whenever no local transaction is open): both are dropped.
 */
export function installWriteTriggers(db: SqlDatabase, schema: ClientSchema): void {
  db.run('CREATE TEMP TABLE IF NOT EXISTS ls_upload_current (tx_id TEXT NOT NULL)');
  db.transaction(() => {
    db.run('DROP TABLE IF EXISTS main.ls_upload_current');
    for (const table of schema.tables) {
      for (const trigger of triggerNames(table.name)) {
        db.run(`DROP TRIGGER IF EXISTS main.${quoteIdent(trigger)}`);
        db.run(`DROP TRIGGER IF EXISTS temp.${quoteIdent(trigger)}`);
      }
      for (const sql of writeTriggersSql(table)) db.run(sql);
    }
  });
}
