import type { BucketIR } from './ir';
import { quoteIdent } from './client-schema';
import type { TableInfo } from './tables';

/** The publication Lockstep's replication slot reads. */
export const PUBLICATION_NAME = 'lockstep';

/** A table the rules read, as the replicator needs it. */
export interface SourceTable {
  schema: string;
  name: string;
  /** Primary key column names, in key order. */
  primaryKey: string[];
  /** Every column of the Drizzle table: `pgType` is pg_type.typname (`int4`, `timestamptz`, `_text`). */
  columns: Array<{ name: string; pgType: string; sqlType: string; supported: boolean }>;
  /** Rows of this table feed data queries (evaluateRow). */
  data: boolean;
  /** Rows of this table feed parameter lookups (evaluateParameterRow). */
  parameters: boolean;
}

/** Every table read by data queries or lookups, sorted by schema and name. */
export function sourceTablesOf(buckets: readonly BucketIR[]): SourceTable[] {
  const tables = new Map<string, { info: TableInfo; data: boolean; parameters: boolean }>();
  const note = (info: TableInfo, role: 'data' | 'parameters') => {
    const entry = tables.get(info.qualified) ?? { info, data: false, parameters: false };
    entry[role] = true;
    tables.set(info.qualified, entry);
  };
  for (const bucket of buckets) {
    for (const q of bucket.dataQueries) note(q.table, 'data');
    for (const q of bucket.parameterQueries) if (q.kind === 'lookup') note(q.table, 'parameters');
  }
  return [...tables.values()]
    .sort((a, b) => (a.info.qualified < b.info.qualified ? -1 : a.info.qualified > b.info.qualified ? 1 : 0))
    .map(({ info, data, parameters }) => ({
      schema: info.schema,
      name: info.name,
      primaryKey: info.primaryKey.map((c) => c.name),
      columns: info.columns.map((c) => ({ name: c.name, pgType: c.type.pgType, sqlType: c.type.sqlType, supported: c.type.codec !== undefined })),
      data,
      parameters,
    }));
}

/**
 * Idempotent SQL that makes the publication cover exactly `tables`: created when missing,
 * otherwise its table list is replaced. Safe to run on every deploy, inside a migration.
 */
export function publicationSql(tables: readonly SourceTable[]): string {
  const list = tables.map((t) => `${quoteIdent(t.schema)}.${quoteIdent(t.name)}`).join(', ');
  const name = quoteIdent(PUBLICATION_NAME);
  return [
    'DO $lockstep$',
    'BEGIN',
    `  IF EXISTS (SELECT 1 FROM pg_publication WHERE pubname = '${PUBLICATION_NAME}') THEN`,
    `    ALTER PUBLICATION ${name} SET TABLE ${list};`,
    '  ELSE',
    `    CREATE PUBLICATION ${name} FOR TABLE ${list};`,
    '  END IF;',
    'END',
    '$lockstep$;',
  ].join('\n');
}

/** Tables missing from, or extra in, the publication as Postgres reports it (pg_publication_tables). */
export function publicationDrift(tables: readonly SourceTable[], published: ReadonlyArray<{ schemaname: string; tablename: string }>): { missing: string[]; extra: string[] } {
  const want = new Set(tables.map((t) => `${t.schema}.${t.name}`));
  const have = new Set(published.map((p) => `${p.schemaname}.${p.tablename}`));
  return { missing: [...want].filter((t) => !have.has(t)), extra: [...have].filter((t) => !want.has(t)) };
}
