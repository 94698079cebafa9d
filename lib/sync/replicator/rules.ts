import type { CompiledSyncRules } from '@/lib/sync/config';
import type { RowRules } from './changes';
import type { SourceTable } from './source';

/** What the replicator uses of the compiled sync rules. */
export interface ReplicatorRules extends RowRules {
  versionHash: string;
  publicationName: string;
  /** Every table the rules read, with the key the evaluators know it by. */
  sourceTables: Array<SourceTable & { key: string }>;
  /** The evaluators' key for a source relation, or undefined when the rules do not read it. */
  tableKey(schema: string, name: string): string | undefined;
  /** The columns a source table has now, so columns schema.ts lacks are synced too. */
  observeColumns(table: string, columns: readonly string[]): void;
}

/** Adapts compiled sync rules for the replicator. */
export function replicatorRules(compiled: CompiledSyncRules): ReplicatorRules {
  const byName = new Map<string, string>();
  const sourceTables = compiled.sourceTables.map((t) => {
    const key = compiled.tableKey(t.schema, t.name);
    byName.set(`${t.schema}.${t.name}`, key);
    return { schema: t.schema, name: t.name, primaryKey: [...t.primaryKey], key };
  });
  sourceTables.sort((a, b) => a.key.localeCompare(b.key));
  return {
    versionHash: compiled.version,
    publicationName: compiled.publicationName,
    sourceTables,
    tableKey: (schema, name) => byName.get(`${schema}.${name}`),
    rowId: (table, row) => compiled.rowId(table, row),
    evaluateRow: (table, row) => compiled.evaluateRow(table, row),
    observeColumns: (table, columns) => compiled.observeColumns(table, columns),
    evaluateParameterRow: (table, row) => compiled.evaluateParameterRow(table, row),
    isDataTable: (table) => compiled.isDataTable(table),
    isParameterTable: (table) => compiled.isParameterTable(table),
  };
}
