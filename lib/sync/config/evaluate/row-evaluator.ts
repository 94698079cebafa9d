import type { BucketIR, DataQueryIR } from '../compile/ir';
import { rowIdReader } from './row-id';
import { quoteInner } from '../codecs/codec';
import { rowSerializer, type RowSerializer } from './serializer';
import { readKey, type ColumnReader, type SourceRow } from './source-row';

/** One bucket a row belongs to, with the row as it is sent to clients. */
export interface EvaluatedRow {
  /** Bucket id, e.g. `list["5f0c…"]`. */
  bucket: string;
  /** The client table (SQLite view) the row lands in. */
  table: string;
  rowId: string;
  /** JSON text of the synced columns, type-mapped, in the query's column order. */
  data: string;
}

interface QueryPlan {
  output: number;
  clientTable: string;
  bucket: string;
  /** `${bucket}["`: with one parameter, the bucket id is this, the key (escaped unless plainKeys) and `"]`. */
  prefix: string;
  parameterCount: number;
  /**
   * With one binding whose codec escapes its text as is (quoteInner), and whose column is synced:
   * the column's index in the data. When the key is the text itself, the bucket id and the data
   * share one escape of it. -1 otherwise.
   */
  shared: number;
  bindings: Array<ColumnReader & { param: number }>;
  constants: Array<ColumnReader & { keys: ReadonlySet<string> }>;
}

interface TablePlan {
  rowId: (row: SourceRow) => string;
  /** Every column schema.ts gives the table. */
  known: ReadonlySet<string>;
  /** Columns the source table has beyond `known` (observeColumns); shared with the serializers. */
  extras: { names: string[] };
  /** Client tables fed by this source table; `serializers` is parallel to it. */
  clientTables: string[];
  serializers: RowSerializer[];
  queries: QueryPlan[];
}

export interface RowEvaluator {
  evaluateRow(table: string, row: SourceRow): EvaluatedRow[];
  /** Tells the evaluator which columns the source table has now (pgoutput relation, snapshot). */
  observeColumns(table: string, columns: readonly string[]): void;
}

/** Builds `evaluateRow` from the compiled buckets: one precompiled plan per source table. */
export function buildRowEvaluator(buckets: readonly BucketIR[]): RowEvaluator {
  const plans = new Map<string, TablePlan>();
  for (const bucket of buckets) {
    for (const query of bucket.dataQueries) {
      const table = query.table.qualified;
      let plan = plans.get(table);
      if (!plan) {
        plan = {
          rowId: rowIdReader(table, query.table.primaryKey),
          known: new Set(query.table.columns.map((c) => c.name)),
          extras: { names: [] },
          clientTables: [],
          serializers: [],
          queries: [],
        };
        plans.set(table, plan);
        if (query.table.schema === 'public') plans.set(query.table.name, plan);
      }
      plan.queries.push(queryPlan(bucket, query, outputIndex(plan, query)));
    }
  }
  return {
    evaluateRow(table, row) {
      const plan = plans.get(table);
      if (!plan) return [];
      return evaluate(plan, table, row);
    },
    observeColumns(table, columns) {
      const plan = plans.get(table);
      if (plan) plan.extras.names = columns.filter((c) => !plan.known.has(c));
    },
  };
}

/** Queries into one client table select the same columns (checked by the compiler), so share one serializer. */
function outputIndex(plan: TablePlan, query: DataQueryIR): number {
  const found = plan.clientTables.indexOf(query.clientTable);
  if (found >= 0) return found;
  plan.clientTables.push(query.clientTable);
  plan.serializers.push(rowSerializer(query.table.qualified, query.columns, query.extraColumns ? plan.extras : undefined));
  return plan.clientTables.length - 1;
}

function queryPlan(bucket: BucketIR, query: DataQueryIR, output: number): QueryPlan {
  return {
    output,
    clientTable: query.clientTable,
    bucket: bucket.name,
    prefix: `${bucket.name}["`,
    shared: query.bindings.length === 1 && query.bindings[0]!.codec.inner === quoteInner ? query.columns.indexOf(query.bindings[0]!.column) : -1,
    parameterCount: bucket.parameters.length,
    bindings: query.bindings.map((b) => ({ name: b.column.name, codec: b.codec, param: b.param })),
    constants: query.constants.map((c) => ({ name: c.column.name, codec: c.codec, keys: new Set(c.keys) })),
  };
}

function evaluate(plan: TablePlan, table: string, row: SourceRow): EvaluatedRow[] {
  if (plan.queries.length === 1) return evaluateOne(plan, plan.queries[0]!, table, row);
  const results: EvaluatedRow[] = [];
  let rowId: string | undefined;
  let data0: string | undefined;
  let data: Array<string | undefined> | undefined;
  for (const query of plan.queries) {
    if (!matchesConstants(query, table, row)) continue;
    const bucket = bucketId(query, table, row);
    if (bucket === undefined || isPlaced(results, bucket, query.clientTable)) continue;
    rowId ??= plan.rowId(row);
    let json: string;
    if (query.output === 0) json = data0 ??= plan.serializers[0]!(row);
    else {
      data ??= [];
      json = data[query.output] ??= plan.serializers[query.output]!(row);
    }
    results.push({ bucket, table: query.clientTable, rowId, data: json });
  }
  return results;
}

/** The common case of a table read by one query: the same steps in the same order, without the bookkeeping. */
function evaluateOne(plan: TablePlan, query: QueryPlan, table: string, row: SourceRow): EvaluatedRow[] {
  if (!matchesConstants(query, table, row)) return [];
  if (query.shared >= 0) {
    const binding = query.bindings[0]!;
    const key = readKey(row, table, binding);
    if (key === null) return [];
    const inner = quoteInner(key);
    const rowId = plan.rowId(row);
    const data = key === row[binding.name] ? plan.serializers[0]!(row, query.shared, inner) : plan.serializers[0]!(row);
    return [{ bucket: query.prefix + inner + '"]', table: query.clientTable, rowId, data }];
  }
  const bucket = bucketId(query, table, row);
  if (bucket === undefined) return [];
  return [{ bucket, table: query.clientTable, rowId: plan.rowId(row), data: plan.serializers[0]!(row) }];
}

/** Two queries of one bucket may both match a row: it is placed in that bucket instance once. */
function isPlaced(results: readonly EvaluatedRow[], bucket: string, clientTable: string): boolean {
  for (const r of results) if (r.bucket === bucket && r.table === clientTable) return true;
  return false;
}

function matchesConstants(query: QueryPlan, table: string, row: SourceRow): boolean {
  for (const constant of query.constants) {
    const key = readKey(row, table, constant);
    if (key === null || !constant.keys.has(key)) return false;
  }
  return true;
}

/** The bucket id the row's parameter columns give, or undefined when one is NULL or they disagree. */
function bucketId(query: QueryPlan, table: string, row: SourceRow): string | undefined {
  const { bindings, parameterCount } = query;
  if (parameterCount === 0) return `${query.bucket}[]`;
  const [only] = bindings;
  if (bindings.length === 1 && only) {
    const key = readKey(row, table, only);
    if (key === null) return undefined;
    return query.prefix + (only.codec.plainKeys ? key : quoteInner(key)) + '"]';
  }
  const values: Array<string | undefined> = new Array(parameterCount);
  for (const binding of bindings) {
    const key = readKey(row, table, binding);
    if (key === null) return undefined;
    const seen = values[binding.param];
    if (seen !== undefined && seen !== key) return undefined;
    values[binding.param] = key;
  }
  return query.bucket + JSON.stringify(values);
}
