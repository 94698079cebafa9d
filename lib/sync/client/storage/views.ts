import type { ClientSchema } from '@/lib/sync/config';
import { inTransaction, type SqlDatabase } from '../db/database';
import { quoteIdent, STORE_PREFIX, tableOfStore } from './layout';
import { getMeta, setMeta } from './meta';

/**
 * Puts the client schema's views over the store tables. A changed schema needs no migration:
 * views of the old schema are dropped, the new ones created, and store tables of tables no longer
 * synced are dropped once no bucket holds rows of them (dropUnsyncedStores).
 */
export function applyClientSchema(db: SqlDatabase, schema: ClientSchema): void {
  const previous = getMeta(db, 'views');
  const before = previous ? (JSON.parse(previous) as string[]) : [];
  const names = schema.tables.map((t) => t.name);
  inTransaction(db, () => {
    for (const name of before) if (!names.includes(name)) db.run(`DROP VIEW IF EXISTS ${quoteIdent(name)}`);
    for (const table of schema.tables) {
      db.run(table.createStoreSql);
      db.run(table.dropViewSql);
      db.run(table.createViewSql);
    }
    setMeta(db, 'views', JSON.stringify(names));
    setMeta(db, 'schema_version', schema.version);
    dropUnsyncedStores(db, names);
  });
}

/**
 * Drops the store tables of tables the schema does not know and no bucket holds rows of (the
 * rows were removed by the checkpoint that stopped syncing them). A table the server still sends
 * but this build's schema does not know keeps its store: a newer build's view will need it.
 */
export function dropUnsyncedStores(db: SqlDatabase, schemaTables: readonly string[]): string[] {
  const stores = db.all<{ name: string }>("SELECT name FROM sqlite_schema WHERE type = 'table' AND name LIKE ? ESCAPE '\\'", [`${STORE_PREFIX.replace(/_/g, '\\_')}%`]);
  const dropped: string[] = [];
  for (const { name } of stores) {
    const table = tableOfStore(name);
    if (table === undefined || schemaTables.includes(table)) continue;
    if (db.get('SELECT 1 AS x FROM ls_oplog WHERE tbl = ? LIMIT 1', [table])) continue;
    // A row that carries its bucket (storage/holders.ts).
    if (db.get(`SELECT 1 AS x FROM ${quoteIdent(name)} WHERE bucket IS NOT NULL LIMIT 1`)) continue;
    if (db.get('SELECT 1 AS x FROM ls_touched WHERE tbl = ? LIMIT 1', [table])) continue;
    if (db.get('SELECT 1 AS x FROM ls_bulk WHERE tbl = ?', [table])) continue;
    db.run(`DROP TABLE ${quoteIdent(name)}`);
    dropped.push(table);
  }
  return dropped;
}
