import type pg from 'pg';
import type { BucketGrant, CompiledSyncRules } from '@/lib/sync/config';
import { checkpointState, clientKey, lookupsChangedSince, writeCheckpointsFor, type BucketState, type Checkpoint, type LookupValues, type PageLimits } from '@/lib/sync/storage';
import { Batcher, groupBy } from './batcher';
import { readDataLine } from '../stream/data-line';

/**
 * The stream's reads of bucket storage, shared by every stream of the process: calls made in the
 * same turn are batched into one query, and identical op pages requested at the same time are
 * read (and encoded) once.
 */

export interface CheckpointSnapshot {
  checkpoint: Checkpoint | null;
  /** The requested buckets' totals exactly as of `checkpoint`. */
  buckets: Map<string, BucketState>;
}

/** One encoded page of a bucket: a complete `data` line, ready to send. */
export interface EncodedPage {
  /** The line's UTF-8 bytes; every stream sending the page writes this same buffer. */
  line: Buffer;
  count: number;
  /** The op id of the page's last op (the bucket's position once it is applied). */
  nextAfter: number;
  hasMore: boolean;
}

export interface Grants {
  grants: BucketGrant[];
  /** The parameter lookups read, by key, with their hashes (empty when the token alone decides). */
  lookups: Map<string, LookupValues>;
}

export interface StreamLoaders {
  /** The bucket ids (with priorities) a verified token's claims give, and the lookups they came from. */
  grants(rulesId: number, claims: Record<string, unknown>): Promise<Grants>;
  /** The latest checkpoint and the buckets' totals as of it, from one snapshot. */
  checkpoint(rulesId: number, buckets: string[]): Promise<CheckpointSnapshot>;
  /** The client's highest write checkpoint covered by a checkpoint at `lsn`, or null. */
  writeCheckpoint(userId: string, clientId: string, lsn: string): Promise<number | null>;
  /** A data line of the bucket's ops in (after, upTo], bounded by the page limits. */
  page(rulesId: number, bucket: string, after: number, upTo: number): Promise<EncodedPage>;
}

/** Builds the loaders over a storage pool. */
export function createLoaders(pool: pg.Pool, rules: CompiledSyncRules, limits: PageLimits): StreamLoaders {
  const lookups = new Batcher<{ rulesId: number; keys: string[] }, Map<string, LookupValues>>(async (requests) => {
    const results: Array<Map<string, LookupValues>> = new Array(requests.length);
    for (const [rulesId, group] of groupBy(requests, (r) => r.rulesId)) {
      const found = await lookupsChangedSince(pool, rulesId, new Map(group.flatMap((g) => g.item.keys.map((key) => [key, null] as const))));
      for (const { item, index } of group) results[index] = new Map(item.keys.map((key) => [key, found.get(key)!]));
    }
    return results;
  });

  const states = new Batcher<{ rulesId: number; buckets: string[] }, CheckpointSnapshot>(async (requests) => {
    const results: CheckpointSnapshot[] = new Array(requests.length);
    for (const [rulesId, group] of groupBy(requests, (r) => r.rulesId)) {
      const union = [...new Set(group.flatMap((g) => g.item.buckets))];
      const snapshot = await checkpointState(pool, rulesId, union);
      for (const { item, index } of group) {
        results[index] = { checkpoint: snapshot.checkpoint, buckets: new Map(item.buckets.map((b) => [b, snapshot.buckets.get(b)!])) };
      }
    }
    return results;
  }, 500);

  const writeCheckpoints = new Batcher<{ userId: string; clientId: string; lsn: string }, number | null>(async (requests) => {
    const results: Array<number | null> = new Array(requests.length);
    for (const [lsn, group] of groupBy(requests, (r) => r.lsn)) {
      const found = await writeCheckpointsFor(pool, group.map((g) => g.item), lsn);
      for (const { item, index } of group) results[index] = found.get(clientKey(item.userId, item.clientId)) ?? null;
    }
    return results;
  });

  const pagesInFlight = new Map<string, Promise<EncodedPage>>();

  return {
    async grants(rulesId, claims) {
      let read = new Map<string, LookupValues>();
      const grants = await rules.bucketsForToken(claims, async (keys) => {
        read = await lookups.load({ rulesId, keys });
        return new Map([...read].map(([key, found]) => [key, found.values]));
      });
      return { grants, lookups: read };
    },
    checkpoint: (rulesId, buckets) => states.load({ rulesId, buckets }),
    writeCheckpoint: (userId, clientId, lsn) => writeCheckpoints.load({ userId, clientId, lsn }),
    page(rulesId, bucket, after, upTo) {
      const key = `${rulesId}\u0000${bucket}\u0000${after}\u0000${upTo}`;
      let pending = pagesInFlight.get(key);
      if (!pending) {
        pending = readDataLine(pool, rulesId, bucket, after, upTo, limits);
        pagesInFlight.set(key, pending);
        const settled = () => pagesInFlight.delete(key);
        // A stream that went away may leave a prefetched page unread: never an unhandled rejection.
        pending.then(settled, settled);
      }
      return pending;
    },
  };
}
