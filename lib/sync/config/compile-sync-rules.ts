import { nodeKind, type SyncRulesNode } from './dsl/nodes';
import { compileBucket } from './compile/bucket';
import { clientTables, type ClientTable } from './compile/client-schema';
import { drizzleModuleSource } from './compile/drizzle-module';
import { ruleError, SyncRulesErrorCode } from './compile/errors';
import type { BucketIR } from './compile/ir';
import { PUBLICATION_NAME, publicationDrift, publicationSql, sourceTablesOf, type SourceTable } from './compile/publication';
import { versionOf } from './compile/version';
import { buildParameterEvaluator, type ParameterEntry } from './evaluate/parameter-evaluator';
import { buildRowEvaluator, type EvaluatedRow } from './evaluate/row-evaluator';
import { rowIdReader } from './evaluate/row-id';
import type { SourceRow } from './evaluate/source-row';
import { buildTokenResolver, type BucketGrant, type ParameterLookup } from './evaluate/token-resolver';

/** The client side of the rules: one view per synced table over a schemaless store. */
export interface ClientSchema {
  version: string;
  tables: ClientTable[];
}

/** A bucket as compiled: its name, priority and parameter names (in bucket id order). */
export interface CompiledBucket {
  name: string;
  priority: number;
  parameters: string[];
}

/** Everything sync.config.ts compiles to. See docs/sync-rules.md. */
export interface CompiledSyncRules {
  /** Stable hash of the rules: equal rules give equal versions, any change gives another. */
  version: string;
  buckets: CompiledBucket[];
  /** Every table the rules read (data queries and parameter lookups). */
  sourceTables: SourceTable[];
  publicationName: string;
  /** Idempotent SQL creating or altering the publication to exactly `sourceTables`. */
  publicationSql(): string;
  /** Tables missing from or extra in the publication, given the rows of pg_publication_tables. */
  publicationDrift(published: ReadonlyArray<{ schemaname: string; tablename: string }>): { missing: string[]; extra: string[] };
  /** The table name the evaluators take for a source relation: `name` in schema public, else `schema.name`. */
  tableKey(schema: string, name: string): string;
  /** The canonical row id of a row of a data or parameter table (`todos` or `public.todos`). */
  rowId(table: string, row: SourceRow): string;
  /** The bucket instances a row belongs to, with its wire data; empty when none. */
  evaluateRow(table: string, row: SourceRow): EvaluatedRow[];
  /**
   * Records the columns a source table has now (the replicator calls it on each pgoutput relation
   * message and snapshot chunk), so queries without .select() also send columns schema.ts lacks.
   */
  observeColumns(table: string, columns: readonly string[]): void;
  /** The parameter index entries a row of a lookup table yields. */
  evaluateParameterRow(table: string, row: SourceRow): ParameterEntry[];
  /** The bucket ids a verified token's claims give, reading lookups through `lookup` in one call. */
  bucketsForToken(claims: Record<string, unknown>, lookup: ParameterLookup): Promise<BucketGrant[]>;
  isDataTable(table: string): boolean;
  isParameterTable(table: string): boolean;
  clientSchema: ClientSchema;
  /** Source of the generated typed client schema module (see `npm run sync:generate`). */
  clientModuleSource(): string;
}

export interface CompileOptions {
  /** The file named in error messages. Default `sync.config.ts`. */
  source?: string;
}

/**
 * Compiles sync rules; throws a ConfigError naming the file, bucket and rule for anything that
 * cannot be evaluated. Call it once at startup and reuse the result.
 * @example const rules = compileSyncRules((await import('@/sync.config')).default);
 */
export function compileSyncRules(config: unknown, options: CompileOptions = {}): CompiledSyncRules {
  const source = options.source ?? 'sync.config.ts';
  if (nodeKind(config) !== 'rules') {
    throw ruleError(SyncRulesErrorCode.invalid, { source }, 'the default export is not sync rules.', 'export default defineSyncRules({ buckets: { ... } }).');
  }
  const entries = Object.entries((config as SyncRulesNode).buckets ?? {});
  if (entries.length === 0) {
    throw ruleError(SyncRulesErrorCode.invalid, { source }, 'the rules define no buckets, so nothing would sync.', 'add a bucket, e.g. buckets: { announcements: bucket({ data: () => [from(announcements)] }) }.');
  }
  const buckets: BucketIR[] = entries.map(([name, node]) => compileBucket(name, node, source));
  const version = versionOf(buckets);
  const rowEvaluator = buildRowEvaluator(buckets);
  const tables = clientTables(buckets, source);
  const sourceTables = sourceTablesOf(buckets);
  const known = (role: 'data' | 'parameters') =>
    new Set(sourceTables.filter((t) => t[role]).flatMap((t) => (t.schema === 'public' ? [t.name, `public.${t.name}`] : [`${t.schema}.${t.name}`])));
  const dataTables = known('data');
  const parameterTables = known('parameters');
  const rowIds = rowIdReaders(buckets);
  return {
    version,
    buckets: buckets.map((b) => ({ name: b.name, priority: b.priority, parameters: b.parameters.map((p) => p.name) })),
    sourceTables,
    publicationName: PUBLICATION_NAME,
    publicationSql: () => publicationSql(sourceTables),
    publicationDrift: (published) => publicationDrift(sourceTables, published),
    tableKey: (schema, name) => (schema === 'public' ? name : `${schema}.${name}`),
    rowId: (table, row) => {
      const read = rowIds.get(table);
      if (!read) throw ruleError(SyncRulesErrorCode.invalid, { source }, `no rule reads table "${table}".`, 'pass a table listed in sourceTables.');
      return read(row);
    },
    evaluateRow: rowEvaluator.evaluateRow,
    observeColumns: rowEvaluator.observeColumns,
    evaluateParameterRow: buildParameterEvaluator(buckets),
    bucketsForToken: buildTokenResolver(buckets),
    isDataTable: (table) => dataTables.has(table),
    isParameterTable: (table) => parameterTables.has(table),
    clientSchema: { version, tables },
    clientModuleSource: () => drizzleModuleSource(tables, version),
  };
}

function rowIdReaders(buckets: readonly BucketIR[]): Map<string, (row: SourceRow) => string> {
  const readers = new Map<string, (row: SourceRow) => string>();
  const add = (info: BucketIR['dataQueries'][number]['table']) => {
    if (readers.has(info.qualified)) return;
    const read = rowIdReader(info.qualified, info.primaryKey);
    readers.set(info.qualified, read);
    if (info.schema === 'public') readers.set(info.name, read);
  };
  for (const bucket of buckets) {
    for (const q of bucket.dataQueries) add(q.table);
    for (const q of bucket.parameterQueries) if (q.kind === 'lookup') add(q.table);
  }
  return readers;
}
