import { NODE, nodeKind, type BucketNode, type MissingParamNode, type ParamNode } from '../dsl/nodes';
import type { BucketIR, BucketParameter, DataQueryIR, ParameterQueryIR } from './ir';
import { compileDataQuery } from './data-queries';
import { ruleError, SyncRulesErrorCode, type RuleLocation } from './errors';
import { claimInput, compileParameterQuery, type RawParameterQuery } from './parameter-queries';

const BUCKET_NAME = /^[A-Za-z][A-Za-z0-9_]*$/;
const DEFAULT_PRIORITY = 3;

/** Validates one bucket of sync.config.ts and resolves its parameters, queries and codecs. */
export function compileBucket(name: string, node: BucketNode, source: string): BucketIR {
  const at: RuleLocation = { source, bucket: name };
  if (!BUCKET_NAME.test(name)) {
    throw ruleError(SyncRulesErrorCode.invalid, at, 'bucket names appear in bucket ids, so they must be identifiers.', 'rename the bucket to letters, digits and underscores, starting with a letter.');
  }
  if (nodeKind(node) !== 'bucket') {
    throw ruleError(SyncRulesErrorCode.invalid, at, 'this is not a bucket.', 'define it with bucket({ parameters, data }).');
  }
  const priority = node.priority ?? DEFAULT_PRIORITY;
  if (!Number.isInteger(priority) || priority < 0 || priority > 3) {
    throw ruleError(SyncRulesErrorCode.invalid, at, `priority ${String(priority)} is not one of 0, 1, 2, 3.`, 'use 0 for what must sync first, 3 (the default) for the rest.');
  }
  const raw = node.parameters.map((q, i) => compileParameterQuery(q, i + 1, at));
  const parameters = agreeOnParameters(raw);
  const owner = {};
  const dataQueries = runDataCallback(node, parameters, owner, at).map((q, i) => compileDataQuery(q, i + 1, { parameters, owner }, at));
  return { name, priority, parameters, parameterQueries: orderOutputs(raw, parameters, dataQueries), dataQueries };
}

/** Every parameter query must yield the same parameters, of the same kinds. */
function agreeOnParameters(raw: RawParameterQuery[]): BucketParameter[] {
  const first = raw[0];
  if (!first) return [];
  const parameters = [...first.outputs].map(([name, o]) => ({ name, kind: o.paramKind }));
  for (const query of raw.slice(1)) {
    const names = [...query.outputs.keys()];
    const missing = parameters.find((p) => !query.outputs.has(p.name));
    const extra = names.find((n) => !first.outputs.has(n));
    if (missing || extra) {
      throw ruleError(
        SyncRulesErrorCode.undefinedParameter,
        query.at,
        `it yields ${names.join(', ')}, but parameter query #1 yields ${parameters.map((p) => p.name).join(', ')}; every parameter query of a bucket must yield every parameter.`,
        `give each parameter query the same outputs (${missing ? `add "${missing.name}"` : `remove "${extra}"`}), or split the bucket in two.`,
      );
    }
    for (const p of parameters) {
      const kind = query.outputs.get(p.name)?.paramKind;
      if (kind !== p.kind) {
        throw ruleError(
          SyncRulesErrorCode.typeMismatch,
          query.at,
          `parameter "${p.name}" is ${kind} here but ${p.kind} in parameter query #1.`,
          'read the parameter from columns (or claims) of the same type in every parameter query.',
        );
      }
    }
  }
  return parameters;
}

function runDataCallback(node: BucketNode, parameters: BucketParameter[], owner: object, at: RuleLocation): unknown[] {
  const names = parameters.map((p) => p.name);
  const params = new Proxy(
    {},
    {
      get: (_target, prop): ParamNode | MissingParamNode | undefined => {
        if (typeof prop !== 'string') return undefined;
        return names.includes(prop) ? { [NODE]: 'param', name: prop, owner } : { [NODE]: 'missing-param', name: prop };
      },
      ownKeys: () => names,
      getOwnPropertyDescriptor: (_target, prop) => (typeof prop === 'string' && names.includes(prop) ? { configurable: true, enumerable: true, writable: false, value: { [NODE]: 'param', name: prop, owner } } : undefined),
    },
  );
  let queries: unknown;
  try {
    queries = node.data(params);
  } catch (cause) {
    const error = ruleError(SyncRulesErrorCode.invalid, { ...at, rule: 'data' }, `the data callback threw: ${cause instanceof Error ? cause.message : String(cause)}.`, 'return an array of from(table)... queries without side effects.');
    throw Object.assign(error, { cause });
  }
  if (!Array.isArray(queries) || queries.length === 0) {
    throw ruleError(SyncRulesErrorCode.invalid, { ...at, rule: 'data' }, 'the data callback returned no queries.', 'return an array with at least one from(table) query.');
  }
  return queries;
}

/** Puts query outputs in parameter order; token claims take the codec of the columns they meet. */
function orderOutputs(raw: RawParameterQuery[], parameters: BucketParameter[], dataQueries: DataQueryIR[]): ParameterQueryIR[] {
  return raw.map((query): ParameterQueryIR => {
    if (query.kind === 'lookup') return { ...query.lookup, outputs: parameters.map((p) => query.outputs.get(p.name)!.output) };
    return {
      kind: 'token',
      number: query.number,
      outputs: parameters.map((p, index) => {
        const claim = query.outputs.get(p.name)!.claim;
        const codecs = dataQueries.flatMap((d) => d.bindings.filter((b) => b.param === index).map((b) => ({ b, d })));
        const first = codecs[0]!;
        for (const { b, d } of codecs) {
          if (b.codec.compareKind !== first.b.codec.compareKind) {
            throw ruleError(
              SyncRulesErrorCode.typeMismatch,
              { ...query.at, rule: `data query #${d.number} (${d.table.name})` },
              `parameter "${p.name}" (token claim "${claim.name}") is compared with ${first.d.table.name}.${first.b.column.name} (${first.b.codec.compareKind}) and with ${d.table.name}.${b.column.name} (${b.codec.compareKind}).`,
              'compare a token parameter with columns of one type only.',
            );
          }
        }
        return claimInput(claim, first.b.codec, `${first.d.table.name}.${first.b.column.name}`, query.at);
      }),
    };
  });
}
