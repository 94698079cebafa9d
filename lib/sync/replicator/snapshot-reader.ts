import type pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { CopyTextRows } from './copy-text';
import type { ColumnTypes } from './row-state';
import { quoteIdent, type SourceTable } from './source';

const FIRST_CHUNK_ROWS = 1000;

export interface SnapshotChunk {
  /** The chunk's rows, parsed when asked for (see CopyTextRows). */
  rows: CopyTextRows;
  /** Primary key values (text) of the chunk's last row: where the next chunk starts. */
  lastKey: string[];
  /** Each column's type OID. */
  types: ColumnTypes;
}

/**
 * Reads a table in primary-key order, `chunkSize` rows at a time, from `afterKey` on, inside one
 * REPEATABLE READ transaction that uses the slot's exported snapshot when there is one. Memory
 * stays bounded by the chunk size whatever the table's size; after a crash the read resumes from
 * the last key saved with a chunk. The first chunk is smaller, so that the replicator has
 * something to plan (and then to commit) sooner: reading, planning and committing overlap.
 *
 * Each chunk is one `COPY (SELECT ...) TO STDOUT` in text format (copy-text.ts): the values are the
 * types' text output, as a SELECT in text mode returns them, at a fraction of node-postgres' cost
 * per row. COPY takes no parameters, so the key to resume after is inlined as a quoted literal cast
 * to the key column's type.
 */
export async function* readTable(
  client: pg.Client,
  table: SourceTable,
  options: { afterKey: string[] | null; chunkSize: number; snapshotName?: string | undefined },
): AsyncGenerator<SnapshotChunk> {
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  try {
    if (options.snapshotName) await client.query(`SET TRANSACTION SNAPSHOT '${options.snapshotName.replaceAll("'", "''")}'`);
    // Read inside the snapshot, so they are the columns the rows are read with.
    const columns = await tableColumns(client, table);
    const names = columns.map((c) => c.name);
    const types: ColumnTypes = new Map(columns.map((c) => [c.name, c.typeOid]));
    const keyTypes = table.primaryKey.map((k) => columns.find((c) => c.name === k)?.type ?? 'text');
    const keyList = table.primaryKey.map(quoteIdent).join(', ');
    const select = `SELECT ${names.map(quoteIdent).join(', ')} FROM ${quoteIdent(table.schema)}.${quoteIdent(table.name)}`;
    let afterKey = options.afterKey;
    let limit = Math.min(options.chunkSize, FIRST_CHUNK_ROWS);
    for (;; limit = options.chunkSize) {
      const after = afterKey ? ` WHERE (${keyList}) > (${afterKey.map((v, i) => `${sqlLiteral(v)}::${keyTypes[i]}`).join(', ')})` : '';
      const rows = await copyRows(client, `COPY (${select}${after} ORDER BY ${keyList} LIMIT ${limit}) TO STDOUT`, names);
      if (rows.count === 0) break;
      const last = rows.row(rows.count - 1);
      afterKey = table.primaryKey.map((c) => last[c] as string);
      yield { rows, lastKey: afterKey, types };
      if (rows.count < limit) break;
    }
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/** The output of a COPY, as bytes; rows are parsed as the planner takes them. */
async function copyRows(client: pg.Client, sql: string, columns: string[]): Promise<CopyTextRows> {
  const pieces: Buffer[] = [];
  for await (const piece of client.query(copyTo(sql)) as AsyncIterable<Buffer>) pieces.push(piece);
  return new CopyTextRows(pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces), columns);
}

/** A string literal that means `value` whatever standard_conforming_strings is set to. */
export function sqlLiteral(value: string): string {
  return `E'${value.replaceAll('\\', '\\\\').replaceAll("'", "''")}'`;
}

/**
 * The table's columns in order, as `SELECT *` returns them, each with its type's name and OID (a
 * domain's base type, as a SELECT's row description reports it).
 */
async function tableColumns(client: pg.Client, table: SourceTable): Promise<Array<{ name: string; typeOid: number; type: string }>> {
  const result = await client.query<{ attname: string; type_oid: string; type: string }>(
    `SELECT a.attname, (CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE a.atttypid END)::text AS type_oid, format_type(a.atttypid, a.atttypmod) AS type
       FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_type t ON t.oid = a.atttypid
      WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY a.attnum`,
    [table.schema, table.name],
  );
  return result.rows.map((r) => ({ name: r.attname, typeOid: Number(r.type_oid), type: r.type }));
}
