import { getTableName } from 'drizzle-orm';
import { NODE, nodeKind, type DataQueryNode } from '../dsl/nodes';
import type { Binding, BucketParameter, ConstantCheck, DataQueryIR } from './ir';
import { ruleError, SyncRulesErrorCode, type RuleLocation } from './errors';
import { comparableCodec, constantKey, kindsMatch } from './operands';
import { codecOf, ownColumn, tableInfo, type ColumnInfo } from './tables';

/** What a data query may refer to: the parameters of the bucket being compiled. */
export interface DataQueryScope {
  parameters: BucketParameter[];
  /** The identity that ParamNodes of this bucket carry. */
  owner: object;
}

/** Validates one data query of a bucket. */
export function compileDataQuery(node: unknown, number: number, scope: DataQueryScope, bucketAt: RuleLocation): DataQueryIR {
  if (nodeKind(node) !== 'data') {
    throw ruleError(SyncRulesErrorCode.invalid, { ...bucketAt, rule: `data query #${number}` }, 'the data callback returned something that is not a data query.', 'return an array of from(table)... queries.');
  }
  const query = node as DataQueryNode;
  const at = { ...bucketAt, rule: `data query #${number} (${getTableName(query.table)})` };
  const info = tableInfo(query.table, at);
  const columns = selectedColumns(query, at);
  const bindings: Binding[] = [];
  const constants: ConstantCheck[] = [];
  for (const filter of query.filters) {
    const column = ownColumn(info, filter.column, at);
    const codec = comparableCodec(info, column, at);
    if (filter.op === 'in') {
      constants.push({ column, codec, keys: filter.values.map((v) => constantKey(info, column, codec, v, at)) });
      continue;
    }
    const operand = filter.operand;
    const target = `${info.name}.${column.name}`;
    if (operand[NODE] === 'constant') {
      constants.push({ column, codec, keys: [constantKey(info, column, codec, operand.value, at)] });
    } else if (operand[NODE] === 'claim') {
      throw ruleError(
        SyncRulesErrorCode.notPerRow,
        at,
        `${target} is compared with token claim "${operand.name}", but data queries are evaluated per row, without a token.`,
        `make the claim a bucket parameter (parameters: fromToken({ ${operand.name === 'sub' ? 'userId' : operand.name}: token.${operand.name === 'sub' ? 'sub' : `claim('${operand.name}')`} })) and compare ${column.key} with that parameter.`,
      );
    } else if (operand[NODE] === 'missing-param' || (operand[NODE] === 'param' && operand.owner !== scope.owner)) {
      throw ruleError(
        SyncRulesErrorCode.undefinedParameter,
        at,
        `${target} is compared with parameter "${operand.name}", which this bucket does not define (its parameters: ${scope.parameters.map((p) => p.name).join(', ') || 'none'}).`,
        `use one of the bucket's parameters, or add "${operand.name}" to the outputs of every parameter query of the bucket.`,
      );
    } else {
      const param = scope.parameters.findIndex((p) => p.name === operand.name);
      const kind = scope.parameters[param]?.kind ?? '';
      if (!kindsMatch(kind, codec.compareKind ?? '')) {
        throw ruleError(
          SyncRulesErrorCode.typeMismatch,
          at,
          `${target} (${codec.compareKind}) is compared with parameter "${operand.name}" of kind ${kind}.`,
          `compare ${column.key} with a parameter read from a column of the same type.`,
        );
      }
      bindings.push({ param, column, codec });
    }
  }
  for (const [index, parameter] of scope.parameters.entries()) {
    if (bindings.some((b) => b.param === index)) continue;
    throw ruleError(
      SyncRulesErrorCode.notPerRow,
      at,
      `the query does not filter on parameter "${parameter.name}", so a ${info.name} row alone does not say which bucket instances it belongs to.`,
      `add a filter eq(<${info.name} column>, ${parameter.name}), or move this query to a bucket without that parameter.`,
    );
  }
  return { number, table: info, clientTable: query.clientTable ?? info.name, columns, extraColumns: query.selected === undefined, bindings, constants };
}

function selectedColumns(query: DataQueryNode, at: RuleLocation): ColumnInfo[] {
  const info = tableInfo(query.table, at);
  const chosen = query.selected === undefined ? info.columns : query.selected.map((c) => ownColumn(info, c, at));
  const omitted = new Set(query.omitted.map((c) => ownColumn(info, c, at)));
  const columns = [...new Set(chosen)].filter((c) => !omitted.has(c));
  if (columns.length === 0) {
    throw ruleError(SyncRulesErrorCode.invalid, at, 'the query syncs no columns.', 'select at least one column, or drop the query.');
  }
  for (const column of columns) codecOf(info, column, at);
  return columns;
}
