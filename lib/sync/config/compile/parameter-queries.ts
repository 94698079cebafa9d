import { getTableName } from 'drizzle-orm';
import { NODE, nodeKind, type ClaimNode, type LookupQueryNode, type TokenQueryNode } from '../dsl/nodes';
import type { ClaimInput, ConstantCheck, LookupQueryIR } from './ir';
import { ruleError, SyncRulesErrorCode, type RuleLocation } from './errors';
import { comparableCodec, constantKey, kindsMatch } from './operands';
import { ownColumn, tableInfo } from './tables';
import type { Codec } from '../codecs/codec';

/** A parameter query before its outputs are put in the bucket's parameter order. */
export type RawParameterQuery =
  | { kind: 'token'; number: number; at: RuleLocation; outputs: Map<string, { paramKind: string; claim: ClaimNode }> }
  | {
      kind: 'lookup';
      number: number;
      at: RuleLocation;
      outputs: Map<string, { paramKind: string; output: LookupQueryIR['outputs'][number] }>;
      lookup: Omit<LookupQueryIR, 'outputs'>;
    };

/** Validates one entry of a bucket's `parameters`. */
export function compileParameterQuery(node: unknown, number: number, bucketAt: RuleLocation): RawParameterQuery {
  const kind = nodeKind(node);
  if (kind === 'token') return compileTokenQuery(node as TokenQueryNode, number, { ...bucketAt, rule: `parameter query #${number} (fromToken)` });
  if (kind === 'lookup') return compileLookup(node as LookupQueryNode, number, bucketAt);
  throw ruleError(
    SyncRulesErrorCode.invalid,
    { ...bucketAt, rule: `parameter query #${number}` },
    'this is not a parameter query.',
    'use lookup(table, { param: table.column }).where(...) or fromToken({ param: token.sub }).',
  );
}

function compileTokenQuery(node: TokenQueryNode, number: number, at: RuleLocation): RawParameterQuery {
  if (node.outputs.length === 0) {
    throw ruleError(SyncRulesErrorCode.invalid, at, 'fromToken() yields no parameters.', 'name at least one parameter, e.g. fromToken({ userId: token.sub }); a bucket without parameters needs no parameter query.');
  }
  const outputs = new Map<string, { paramKind: string; claim: ClaimNode }>();
  for (const [param, claim] of node.outputs) {
    if (nodeKind(claim) !== 'claim') {
      throw ruleError(SyncRulesErrorCode.invalid, at, `parameter "${param}" is not a token claim.`, 'use token.sub or token.claim(name, type).');
    }
    outputs.set(param, { paramKind: `claim:${claim.type}`, claim });
  }
  return { kind: 'token', number, at, outputs };
}

function compileLookup(node: LookupQueryNode, number: number, bucketAt: RuleLocation): RawParameterQuery {
  const at = { ...bucketAt, rule: `parameter query #${number} (lookup on ${getTableName(node.table)})` };
  const info = tableInfo(node.table, at);
  if (node.outputs.length === 0) {
    throw ruleError(SyncRulesErrorCode.invalid, at, 'the lookup yields no parameters.', `name at least one output column, e.g. lookup(${info.name}, { id: ${info.name}.id }).`);
  }
  const outputs = new Map<string, { paramKind: string; output: LookupQueryIR['outputs'][number] }>();
  for (const [param, column] of node.outputs) {
    const own = ownColumn(info, column, at);
    const codec = comparableCodec(info, own, at);
    outputs.set(param, { paramKind: codec.compareKind as string, output: { column: own, codec } });
  }
  const inputs: LookupQueryIR['inputs'] = [];
  const constants: ConstantCheck[] = [];
  for (const filter of node.filters) {
    const column = ownColumn(info, filter.column, at);
    const codec = comparableCodec(info, column, at);
    if (filter.op === 'in') {
      constants.push({ column, codec, keys: filter.values.map((v) => constantKey(info, column, codec, v, at)) });
      continue;
    }
    const operand = filter.operand;
    if (operand[NODE] === 'claim') {
      inputs.push({ ...claimInput(operand, codec, `${info.name}.${column.name}`, at), column });
    } else if (operand[NODE] === 'constant') {
      constants.push({ column, codec, keys: [constantKey(info, column, codec, operand.value, at)] });
    } else {
      throw ruleError(
        SyncRulesErrorCode.notPerRow,
        at,
        `the filter on ${info.name}.${column.name} uses bucket parameter "${operand.name}"; a lookup is evaluated per ${info.name} row and per token, before any bucket parameter exists.`,
        'compare lookup columns with token claims (token.sub, token.claim(...)) or constants.',
      );
    }
  }
  return { kind: 'lookup', number, at, outputs, lookup: { kind: 'lookup', number, id: `${bucketAt.bucket}/${number}`, table: info, inputs, constants } };
}

/** A claim compared with a column whose codec canonicalises it; throws on a type mismatch. */
export function claimInput(claim: ClaimNode, codec: Codec, columnName: string, at: RuleLocation): ClaimInput {
  if (!kindsMatch(`claim:${claim.type}`, codec.compareKind ?? '')) {
    throw ruleError(
      SyncRulesErrorCode.typeMismatch,
      at,
      `${columnName} (${codec.compareKind}) is compared with token claim "${claim.name}" of type ${claim.type}.`,
      `declare the claim with a matching type, e.g. token.claim('${claim.name}', '${codec.compareKind === 'integer' ? 'number' : codec.compareKind === 'boolean' ? 'boolean' : 'string'}'), or compare it with another column.`,
    );
  }
  return { claim: claim.name, type: claim.type, many: claim.many, codec };
}

