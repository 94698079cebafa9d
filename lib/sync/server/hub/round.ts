import type pg from 'pg';
import { bucketStatesAt, clientKey, lookupsChangedSince, writeCheckpointsAt, type BucketState, type Checkpoint, type LookupValues } from '@/lib/sync/storage';
import type { EncodedPage } from './loaders';

/** Data pages a round starts reading before the streams ask for them, at most. */
const MAX_PREFETCH = 32;

/**
 * One round per new checkpoint, for every idle stream of the process at once: three queries run
 * side by side (parameter lookups that changed, bucket states that changed, write checkpoints)
 * whatever the number of streams, and each answers only with what changed. Then each stream
 * decides, without a query of its own, whether the checkpoint changes anything for its client.
 * Only those it does are woken; the others stay asleep.
 */

/** A checkpoint's news, shared by every stream of the round. */
export interface RoundData {
  checkpoint: Checkpoint;
  /** The hub's round number (SyncHub.settledRound once it is done). */
  round: number;
  /** Buckets that changed since the round's starting point, and those a participant just gained. */
  states: ReadonlyMap<string, BucketState>;
  /** Write checkpoints by clientKey(user, client), when the checkpoint has an LSN. */
  writeCheckpoints: ReadonlyMap<string, number>;
  /** First data pages already being read, by pageKey(bucket, after): every stream sending from there shares it. */
  pages: ReadonlyMap<string, Promise<EncodedPage>>;
  /**
   * Whole outputs of the checkpoint (diff line, data, completion lines) as one chunk, for streams
   * whose clients get exactly the same lines: built by the first such stream, written as the same
   * bytes by all of them. Keyed by the stream (see StreamSession); undefined when not shareable.
   */
  outputs: Map<string, Promise<Uint8Array | undefined>>;
}

/** The key of RoundData.pages. */
export function pageKey(bucket: string, after: number): string {
  return `${bucket}\u0000${after}`;
}

/** What a stream offers the round (StreamSession implements it). */
export interface RoundParticipant {
  readonly userId: string;
  readonly clientId: string;
  /** True when idle and up to date at `sinceOpId` or later for `rulesId`; otherwise it is only woken. */
  joinable(rulesId: number, sinceOpId: number): boolean;
  /** The parameter lookups its token reads (fixed keys), with the signature of what it last read. */
  lookups(): ReadonlyMap<string, LookupValues>;
  /** The buckets its client holds now, with the op id it holds each up to. */
  heldBuckets(): Iterable<[bucket: string, position: number]>;
  /** Re-derives its buckets when one of its lookups changed; returns buckets newly granted. */
  regrant(changed: ReadonlyMap<string, LookupValues>): Promise<string[]>;
  /** Takes the round's data: plans the diff and wakes itself if there is one. False: it could not use it. */
  accept(round: RoundData): boolean;
  /** Forgets what regrant prepared (the round failed). */
  abandon(): void;
  wake(): void;
}

/**
 * Runs the round of checkpoint `checkpointOpId` for the participants that joined it (all up to
 * date at `sinceOpId` or later). Returns those that could not use it (they became busy meanwhile):
 * the caller wakes them, once the round counts as done, so that they catch up on their own.
 */
export async function runRound(
  pool: pg.Pool,
  readPage: (bucket: string, after: number, upTo: number) => Promise<EncodedPage>,
  rulesId: number,
  checkpointOpId: number,
  sinceOpId: number,
  roundNumber: number,
  participants: RoundParticipant[],
): Promise<RoundParticipant[]> {
  try {
    const known = new Map<string, string | null>();
    const held = new Set<string>();
    const clients = new Map<string, { userId: string; clientId: string }>();
    for (const p of participants) {
      for (const [key, { signature }] of p.lookups()) known.set(key, known.has(key) && known.get(key) !== signature ? null : signature);
      for (const [bucket] of p.heldBuckets()) held.add(bucket);
      clients.set(clientKey(p.userId, p.clientId), { userId: p.userId, clientId: p.clientId });
    }
    const statesRead = bucketStatesAt(pool, rulesId, [...held], checkpointOpId, sinceOpId, []);
    // The data streams will ask for first: read it as soon as the changed buckets are known,
    // while the other queries finish and the streams plan.
    const pagesRead = statesRead.then((states) => {
      const pages = new Map<string, Promise<EncodedPage>>();
      for (const p of participants) {
        for (const [bucket, position] of p.heldBuckets()) {
          const state = states.get(bucket);
          const key = pageKey(bucket, position);
          if (!state || state.lastOpId <= position || pages.has(key) || pages.size >= MAX_PREFETCH) continue;
          pages.set(key, readPage(bucket, position, checkpointOpId));
        }
      }
      return pages;
    });
    const [changed, states, writeCheckpoints, pages] = await Promise.all([
      lookupsChangedSince(pool, rulesId, known),
      statesRead,
      writeCheckpointsAt(pool, rulesId, checkpointOpId, [...clients.values()]),
      pagesRead,
    ]);
    let gained = new Set<string>();
    if (changed.size > 0) gained = new Set((await Promise.all(participants.map((p) => p.regrant(changed)))).flat());
    else for (const p of participants) p.abandon();
    const missing = [...gained].filter((bucket) => !states.has(bucket));
    if (missing.length > 0) for (const [bucket, state] of await bucketStatesAt(pool, rulesId, [], checkpointOpId, sinceOpId, missing)) states.set(bucket, state);

    const round: RoundData = { checkpoint: { opId: checkpointOpId, lsn: writeCheckpoints.lsn }, round: roundNumber, states, writeCheckpoints: writeCheckpoints.ids, pages, outputs: new Map() };
    return participants.filter((p) => !p.accept(round));
  } catch (error: unknown) {
    for (const p of participants) p.abandon();
    throw error;
  }
}
