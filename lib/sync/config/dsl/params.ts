import { NODE, type ClaimNode, type TokenQueryNode } from './nodes';
import type { ClaimKind } from './kinds';

declare const PARAM: unique symbol;

/**
 * A value a filter can compare a column with, known only per user: a bucket parameter (scope
 * 'bucket', usable in data queries) or a token claim (scope 'token', usable in parameter lookups).
 * `K` is its comparison kind (see kinds.ts). Type-level only; the runtime value is a DSL node.
 */
export interface Param<K extends string, S extends 'bucket' | 'token'> {
  readonly [PARAM]: { readonly kind: K; readonly scope: S };
}

/** A claim of the verified sync token. */
export type Claim<K extends ClaimKind> = ClaimNode & Param<K, 'token'>;

/** The kind of bucket parameter a claim gives: one per element for array claims. */
export type ClaimParamKind<C> =
  C extends Param<infer K, 'token'> ? (K extends `${infer E}[]` ? E : K) : never;

type ClaimTypeName = 'string' | 'number' | 'boolean' | 'string[]' | 'number[]' | 'boolean[]';
type ClaimKindOf<T extends ClaimTypeName> = `claim:${T}` & ClaimKind;

function claim(name: string): Claim<'claim:string'>;
function claim<T extends ClaimTypeName>(name: string, type: T): Claim<ClaimKindOf<T>>;
function claim(name: string, type: ClaimTypeName = 'string'): Claim<ClaimKind> {
  const typeName = type;
  const many = typeName.endsWith('[]');
  const node: ClaimNode = {
    [NODE]: 'claim',
    name,
    type: (many ? typeName.slice(0, -2) : typeName) as ClaimNode['type'],
    many,
  };
  return node as Claim<ClaimKind>;
}

/**
 * Claims of the verified sync token, for parameter queries.
 * @example token.sub                              // the user id (a string claim)
 * @example token.claim('org_id')                  // any string claim
 * @example token.claim('team_ids', 'string[]')    // an array claim: one bucket instance per element
 */
export const token = {
  /** The token's subject: the signed-in user's id. */
  sub: claim('sub'),
  /** Any claim; `type` says what JSON value it holds (default 'string'). */
  claim,
} as const;

/** A parameter query that reads bucket parameters straight from token claims. */
export interface TokenQuery<P extends Record<string, string>> extends TokenQueryNode {
  /** Type-level only: the parameters this query yields (invariant, so queries of a bucket agree). */
  readonly _params?: (p: P) => P;
}

/**
 * Bucket parameters taken directly from the token, e.g. the user's own bucket.
 * @example fromToken({ userId: token.sub })
 */
export function fromToken<O extends Record<string, Claim<ClaimKind>>>(outputs: O): TokenQuery<{ [K in keyof O]: ClaimParamKind<O[K]> }> {
  return { [NODE]: 'token', outputs: Object.entries(outputs) };
}
