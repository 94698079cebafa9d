import { NODE, type BucketNode, type ParameterQueryNode, type SyncRulesNode } from './nodes';
import type { Param } from './params';
import type { DataQuery } from './queries';

/** A parameter query yielding the parameters P (a lookup or fromToken). */
export type ParameterQuery<P extends Record<string, string>> = ParameterQueryNode & { readonly _params?: (p: P) => P };

/** The parameters object a bucket's data callback receives. */
export type BucketParams<P extends Record<string, string>> = { readonly [K in keyof P]: Param<P[K], 'bucket'> };

/** 0 is synced first; buckets default to 3. */
export type BucketPriority = 0 | 1 | 2 | 3;

export interface BucketDefinition<P extends Record<string, string>> {
  /** Sync order: buckets of priority 0 are complete before those of 1, and so on. Default 3. */
  priority?: BucketPriority;
  /**
   * Where the bucket's parameters come from. Each query yields parameter sets; their union is the
   * user's instances of this bucket. Omit for a global bucket (one instance, everyone gets it).
   */
  parameters?: ParameterQuery<P> | ReadonlyArray<ParameterQuery<P>>;
  /** The rows of one bucket instance, as queries filtered by the parameters. */
  data: (params: BucketParams<P>) => ReadonlyArray<DataQuery<string>>;
}

/** A bucket definition, typed by its parameters. */
export interface Bucket<P extends Record<string, string>> extends BucketNode {
  readonly _params?: (p: P) => P;
}

/**
 * Declares a bucket: a set of rows synced together, with one instance per parameter set.
 * @example
 * bucket({
 *   parameters: lookup(listMembers, { listId: listMembers.listId }).where(eq(listMembers.userId, token.sub)),
 *   data: ({ listId }) => [from(todos).where(eq(todos.listId, listId))],
 * })
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- no parameters: a global bucket
export function bucket<P extends Record<string, string> = {}>(definition: BucketDefinition<P>): Bucket<P> {
  const { parameters } = definition;
  return {
    [NODE]: 'bucket',
    priority: definition.priority,
    parameters: parameters === undefined ? [] : isQueryList(parameters) ? [...parameters] : [parameters],
    data: definition.data as unknown as BucketNode['data'],
  };
}

function isQueryList<P extends Record<string, string>>(value: ParameterQuery<P> | ReadonlyArray<ParameterQuery<P>>): value is ReadonlyArray<ParameterQuery<P>> {
  return Array.isArray(value);
}

/** Typed sync rules: what sync.config.ts default-exports. */
export interface SyncRules<B extends Record<string, Bucket<Record<string, string>>>> extends SyncRulesNode {
  readonly buckets: B;
}

/**
 * Declares the app's sync rules: named buckets. Bucket names appear in bucket ids, so they are
 * identifiers (letters, digits, underscores).
 * @example export default defineSyncRules({ buckets: { announcements: bucket({ data: () => [from(announcements)] }) } });
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each bucket keeps its own parameter type
export function defineSyncRules<B extends Record<string, Bucket<any>>>(config: { buckets: B }): SyncRules<B> {
  return { [NODE]: 'rules', buckets: config.buckets };
}
