import type pg from 'pg';
import type { SourceRow } from './changes';
import type { ColumnTypes } from './row-state';
import { quoteIdent, textTypes, type SourceTable } from './source';

const FIRST_CHUNK_ROWS = 1000;

export interface SnapshotChunk {
  rows: SourceRow[];
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
 */
export async function* readTable(
  client: pg.Client,
  table: SourceTable,
  options: { afterKey: string[] | null; chunkSize: number; snapshotName?: string | undefined },
): AsyncGenerator<SnapshotChunk> {
  const keyTypes = await primaryKeyTypes(client, table);
  const keyList = table.primaryKey.map(quoteIdent).join(', ');
  const from = `${quoteIdent(table.schema)}.${quoteIdent(table.name)}`;
  const after = `(${keyList}) > (${table.primaryKey.map((c, i) => `$${i + 1}::${keyTypes[i]}`).join(', ')})`;
  const limit = `$${table.primaryKey.length + 1}`;
  const first = `SELECT * FROM ${from} ORDER BY ${keyList} LIMIT $1`;
  const next = `SELECT * FROM ${from} WHERE ${after} ORDER BY ${keyList} LIMIT ${limit}`;

  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  try {
    if (options.snapshotName) await client.query(`SET TRANSACTION SNAPSHOT '${options.snapshotName.replaceAll("'", "''")}'`);
    let afterKey = options.afterKey;
    let rows = Math.min(options.chunkSize, FIRST_CHUNK_ROWS);
    for (;; rows = options.chunkSize) {
      const result = afterKey
        ? await client.query<SourceRow>({ text: next, values: [...afterKey, rows], types: textTypes })
        : await client.query<SourceRow>({ text: first, values: [rows], types: textTypes });
      if (result.rows.length === 0) break;
      const last = result.rows[result.rows.length - 1]!;
      afterKey = table.primaryKey.map((c) => last[c] as string);
      yield { rows: result.rows, lastKey: afterKey, types: new Map(result.fields.map((f) => [f.name, f.dataTypeID])) };
      if (result.rows.length < rows) break;
    }
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

async function primaryKeyTypes(client: pg.Client, table: SourceTable): Promise<string[]> {
  const result = await client.query<{ attname: string; type: string }>(
    `SELECT a.attname, format_type(a.atttypid, a.atttypmod) AS type
       FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = $2 AND a.attname = ANY ($3::text[]) AND NOT a.attisdropped`,
    [table.schema, table.name, table.primaryKey],
  );
  const types = new Map(result.rows.map((r) => [r.attname, r.type]));
  return table.primaryKey.map((c) => types.get(c) ?? 'text');
}
