import type { BucketIR, LookupQueryIR } from '../compile/ir';
import { lookupKey } from './lookup-key';
import { readKey, type ColumnReader, type SourceRow } from './source-row';

/** A parameter index entry: `values` are the bucket parameters a row yields for `lookup`. */
export interface ParameterEntry {
  lookup: string;
  values: string[];
}

interface LookupPlan {
  id: string;
  constants: Array<ColumnReader & { keys: ReadonlySet<string> }>;
  inputs: ColumnReader[];
  outputs: ColumnReader[];
}

/** Builds `evaluateParameterRow`: for each lookup on the table, the entry the row yields (if any). */
export function buildParameterEvaluator(buckets: readonly BucketIR[]): (table: string, row: SourceRow) => ParameterEntry[] {
  const plans = new Map<string, LookupPlan[]>();
  for (const bucket of buckets) {
    for (const query of bucket.parameterQueries) {
      if (query.kind !== 'lookup') continue;
      const list = plans.get(query.table.qualified) ?? [];
      if (list.length === 0) {
        plans.set(query.table.qualified, list);
        if (query.table.schema === 'public') plans.set(query.table.name, list);
      }
      list.push(lookupPlan(query));
    }
  }
  return (table, row) => {
    const list = plans.get(table);
    if (!list) return [];
    const entries: ParameterEntry[] = [];
    for (const plan of list) {
      const entry = evaluateLookup(plan, table, row);
      if (entry) entries.push(entry);
    }
    return entries;
  };
}

function lookupPlan(query: LookupQueryIR): LookupPlan {
  return {
    id: query.id,
    constants: query.constants.map((c) => ({ name: c.column.name, codec: c.codec, keys: new Set(c.keys) })),
    inputs: query.inputs.map((i) => ({ name: i.column.name, codec: i.codec })),
    outputs: query.outputs.map((o) => ({ name: o.column.name, codec: o.codec })),
  };
}

/** NULL in an input or output column gives no entry: in SQL, NULL equals nothing. */
function evaluateLookup(plan: LookupPlan, table: string, row: SourceRow): ParameterEntry | undefined {
  for (const constant of plan.constants) {
    const key = readKey(row, table, constant);
    if (key === null || !constant.keys.has(key)) return undefined;
  }
  const inputs: string[] = [];
  for (const input of plan.inputs) {
    const key = readKey(row, table, input);
    if (key === null) return undefined;
    inputs.push(key);
  }
  const values: string[] = [];
  for (const output of plan.outputs) {
    const key = readKey(row, table, output);
    if (key === null) return undefined;
    values.push(key);
  }
  return { lookup: lookupKey(plan.id, inputs), values };
}
