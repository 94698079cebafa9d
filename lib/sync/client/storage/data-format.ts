import { inTransaction, type SqlDatabase } from '../db/database';
import { quoteIdent } from './layout';
import { getMeta, setMeta } from './meta';

/**
 * Row data is kept as JSONB (SQLite's binary JSON): the views' json_extract reads it without
 * parsing text, which makes a query over a table ~2.5x faster. A database made before keeps JSON
 * text: its rows are converted once, in place, when it is opened (no layout change, so nothing
 * else is touched: the upload queue and the download positions stay). Data that is not valid
 * JSON stays as it is.
 */
export function convertRowDataToJsonb(db: SqlDatabase): void {
  if (getMeta(db, 'data_format') === 'jsonb') return;
  inTransaction(db, () => {
    const tables = db.all<{ name: string }>("SELECT name FROM sqlite_schema WHERE type = 'table' AND (name LIKE 'ls\\_data\\_\\_%' ESCAPE '\\' OR name LIKE 'ls\\_stage\\_\\_%' ESCAPE '\\')");
    for (const { name } of tables) db.run(`UPDATE ${quoteIdent(name)} SET data = jsonb(data) WHERE typeof(data) = 'text' AND json_valid(data)`);
    // '' in the oplog means "the store holds it" (layout.ts); NULL in ls_server_rows, "no row".
    db.run("UPDATE ls_oplog SET data = jsonb(data) WHERE typeof(data) = 'text' AND data <> '' AND json_valid(data)");
    db.run("UPDATE ls_server_rows SET data = jsonb(data) WHERE typeof(data) = 'text' AND json_valid(data)");
    setMeta(db, 'data_format', 'jsonb');
  });
}
