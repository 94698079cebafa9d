import type { CurrentRow, Queryable } from './types';

/** Reads of the replicator's per-row state and of the parameter index. Writes go through commitBatch. */

interface StoredRow {
  row_id: string;
  buckets: string[];
  source_values: Record<string, string | null>;
  values_hash: string | null;
}

function currentRow(r: StoredRow): CurrentRow {
  return r.values_hash === null ? { buckets: r.buckets, values: r.source_values } : { buckets: r.buckets, values: r.source_values, valuesHash: r.values_hash };
}

/**
 * The stored buckets and column values of some rows of one source table; rows not stored are
 * absent from the map.
 *
 * @example
 *   const before = await getCurrentRows(pool, rulesId, 'public.todos', ['a', 'b']);
 */
export async function getCurrentRows(db: Queryable, rulesId: number, table: string, rowIds: string[]): Promise<Map<string, CurrentRow>> {
  const { rows } = await db.query<StoredRow>({
    name: 'lockstep_get_current_rows',
    text: 'SELECT row_id, buckets, source_values, values_hash FROM lockstep.current_rows WHERE rules_id = $1 AND table_name = $2 AND row_id = ANY($3::text[])',
    values: [rulesId, table, rowIds],
  });
  return new Map(rows.map((r) => [r.row_id, currentRow(r)]));
}

/**
 * One page of a table's stored rows in row id order (byte order), after `afterRowId`. Used to
 * emit REMOVE for every row of a truncated table without loading it all at once.
 */
export async function listCurrentRows(db: Queryable, rulesId: number, table: string, afterRowId: string | null, limit: number): Promise<Array<{ rowId: string } & CurrentRow>> {
  const { rows } = await db.query<StoredRow>(
    `SELECT row_id, buckets, source_values, values_hash FROM lockstep.current_rows
      WHERE rules_id = $1 AND table_name = $2 AND ($3::text IS NULL OR row_id > $3::text COLLATE "C")
      ORDER BY row_id LIMIT $4`,
    [rulesId, table, afterRowId, limit],
  );
  return rows.map((r) => ({ rowId: r.row_id, ...currentRow(r) }));
}

/**
 * The parameter tuples stored under each lookup key, concatenated over the source rows that
 * contributed them (in source table, row id order). Every requested lookup gets an entry.
 *
 * @example
 *   const lists = await lookupParameters(pool, rulesId, ['list_members.user_id=["u1"]']);
 *   lists.get('list_members.user_id=["u1"]'); // [["list-1"], ["list-7"]]
 */
export async function lookupParameters(db: Queryable, rulesId: number, lookups: string[]): Promise<Map<string, string[][]>> {
  const { rows } = await db.query<{ lookup: string; parameter_values: string[][] }>(
    {
      name: 'lockstep_lookup_parameters',
      text: `SELECT lookup, parameter_values FROM lockstep.parameter_index
              WHERE rules_id = $1 AND lookup = ANY($2::text[]) ORDER BY lookup, source_table, source_row_id`,
      values: [rulesId, lookups],
    },
  );
  const result = new Map<string, string[][]>(lookups.map((lookup) => [lookup, []]));
  for (const r of rows) result.get(r.lookup)?.push(...r.parameter_values);
  return result;
}
