import { LockstepError } from '@/lib/sync/errors';
import type { BucketIR, ClaimInput } from '../compile/ir';
import { bucketIdOf, lookupKey } from './lookup-key';

/** A bucket instance a user may sync, with its bucket's priority. */
export interface BucketGrant {
  bucket: string;
  priority: number;
}

/**
 * Reads the parameter index: for each lookup key, the `values` arrays stored for it (missing or
 * empty when no source row yields the key).
 */
export type ParameterLookup = (keys: string[]) => Promise<Map<string, string[][]>>;

/** Error code of a parameter index entry that does not fit the bucket it is read for. */
export const PARAMETER_ENTRY_INVALID = 'SYNC_PARAMETER_ENTRY_INVALID';

/**
 * Builds `bucketsForToken`: the bucket ids a verified token's claims give, reading lookups through
 * one batched call, sorted by priority then id. A claim that is missing or not of its declared
 * type gives no instance.
 */
export function buildTokenResolver(buckets: readonly BucketIR[]): (claims: Record<string, unknown>, lookup: ParameterLookup) => Promise<BucketGrant[]> {
  return async (claims, lookup) => {
    const grants = new Map<string, number>();
    const pending: Array<{ key: string; bucket: BucketIR }> = [];
    for (const bucket of buckets) {
      if (bucket.parameterQueries.length === 0) grants.set(bucketIdOf(bucket.name, []), bucket.priority);
      for (const query of bucket.parameterQueries) {
        if (query.kind === 'token') {
          for (const values of product(query.outputs.map((o) => claimKeys(claims, o)))) {
            grants.set(bucketIdOf(bucket.name, values), bucket.priority);
          }
        } else {
          for (const inputs of product(query.inputs.map((i) => claimKeys(claims, i)))) {
            pending.push({ key: lookupKey(query.id, inputs), bucket });
          }
        }
      }
    }
    if (pending.length > 0) {
      const found = await lookup([...new Set(pending.map((p) => p.key))]);
      for (const { key, bucket } of pending) {
        for (const values of found.get(key) ?? []) {
          if (values.length !== bucket.parameters.length || values.some((v) => typeof v !== 'string')) {
            throw new LockstepError(
              'replication',
              PARAMETER_ENTRY_INVALID,
              `Parameter index entry for ${key} holds ${JSON.stringify(values)}, but bucket "${bucket.name}" has ${bucket.parameters.length} string parameter(s): the index was built by other sync rules.`,
              { details: { key, bucket: bucket.name } },
            );
          }
          grants.set(bucketIdOf(bucket.name, values), bucket.priority);
        }
      }
    }
    return [...grants]
      .map(([bucket, priority]) => ({ bucket, priority }))
      .sort((a, b) => a.priority - b.priority || (a.bucket < b.bucket ? -1 : a.bucket > b.bucket ? 1 : 0));
  };
}

/** The keys a claim gives: one, none (missing or invalid), or one per element of an array claim. */
function claimKeys(claims: Record<string, unknown>, input: ClaimInput): string[] {
  const value = claims[input.claim];
  const items = input.many ? (Array.isArray(value) ? value : value === undefined ? [] : [value]) : [value];
  const keys: string[] = [];
  for (const item of items) {
    if (input.type === 'string' && typeof item !== 'string') continue;
    const key = input.codec.keyOfValue(item);
    if (key !== undefined && !keys.includes(key)) keys.push(key);
  }
  return keys;
}

/** Every combination taking one element from each list (none if any list is empty). */
function product(lists: string[][]): string[][] {
  let combos: string[][] = [[]];
  for (const list of lists) combos = combos.flatMap((combo) => list.map((item) => [...combo, item]));
  return combos;
}
