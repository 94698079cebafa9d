import type pg from 'pg';
import { bucketStatesAt, clientKey, lookupsChangedSince, type BucketState, type Checkpoint, type LookupValues } from '@/lib/sync/storage';
import { bucketsChangedAt, type WriteCheckpointsAt } from '@/lib/sync/storage/stream-reads';
import { LineChunks } from '../stream/chunks';
import * as encode from '../stream/encode';
import type { CheckpointPlan } from '../stream/plan';
import type { EncodedPage } from './loaders';

/** Data pages a round starts reading before the streams ask for them, at most. */
const MAX_PREFETCH = 32;

/**
 * One round per new checkpoint, for every idle stream of the process at once: three queries run
 * side by side (parameter lookups that changed, buckets that changed, write checkpoints newly
 * reached) whatever the number of streams, and each answers only with what changed; the buckets
 * and write checkpoints are found from what changed, without the streams' buckets or clients as
 * input. Then each stream decides, without a query of its own, whether the checkpoint changes
 * anything for its client. Only those it does are woken, a slice at a time, so that the first
 * slices' lines are written while the next are planned; the others stay asleep.
 */

/** Streams woken (or handed their lines) before the round lets the event loop write their lines. */
const WAKE_SLICE = 50;

/** A round's shared output is built only up to this size; a larger checkpoint goes out page by page as usual. */
export const SHARED_OUTPUT_MAX_BYTES = 1024 * 1024;

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
  /** The same pages once read: a round hands its data over only when all of them are. */
  readyPages: ReadonlyMap<string, EncodedPage>;
  /**
   * Whole outputs of the checkpoint (diff line, data, completion lines) as one chunk, for streams
   * whose clients get exactly the same lines: built by the first such stream, written as the same
   * bytes by all of them. Keyed by the stream (see StreamSession); null when not shareable.
   */
  outputs: Map<string, Uint8Array | null>;
  /** Diffs planned once for every stream whose client gets the same lines, by diffKey (stream/plan.ts); filled by the streams. */
  diffs: Map<string, SharedDiff>;
}

/** A diff of the round shared by the streams of one diffKey: its lines are the same for all. */
export interface SharedDiff {
  plan: CheckpointPlan;
  /** The checkpoint_diff line, once a stream has encoded it. */
  head?: string;
  /** The whole output built from the round's read pages (roundOutput); null when it cannot be (not all read, too large). */
  bytes?: Uint8Array | null;
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
  /**
   * The hub's parameter epoch (SyncHub.parametersEpoch) when its lookups were last read or checked:
   * a round checks them again only when the epoch has moved since. Set by the hub after a round.
   */
  lookupsEpoch: number;
  /**
   * The round (SyncHub.settledRound) whose data the hub is about to hand it, set before the
   * round counts as settled and cleared once the hand-out is over: woken meanwhile (a keepalive
   * tick between two slices), it must wait for its turn instead of reading the checkpoint itself.
   */
  awaitingRound: number | undefined;
  /** The buckets its client holds now, with the op id it holds each up to. */
  heldBuckets(): Iterable<[bucket: string, position: number]>;
  /** The op id its client holds `bucket` up to; undefined when it does not hold it. */
  position(bucket: string): number | undefined;
  /** Re-derives its buckets when one of its lookups changed; returns buckets newly granted. */
  regrant(changed: ReadonlyMap<string, LookupValues>): Promise<string[]>;
  /**
   * Takes the round's data: plans the diff and, if there is one, hands its lines to the HTTP layer
   * at once ('sent', see roundOutput) or wakes itself to send them ('woken'); or moves on to the
   * checkpoint with nothing to send ('idle'). 'refused': it could not use it.
   */
  accept(round: RoundData): 'sent' | 'woken' | 'idle' | 'refused';
  /** Forgets what regrant prepared (the round failed). */
  abandon(): void;
  wake(): void;
}

/** How a round reads: the hub's loaders and write checkpoint window. */
export interface RoundReads {
  page(bucket: string, after: number, upTo: number): Promise<EncodedPage>;
  writeCheckpoints(checkpointOpId: number, clients: () => Array<{ userId: string; clientId: string }>): Promise<WriteCheckpointsAt>;
}

/**
 * Reads the news of checkpoint `checkpointOpId` for the participants that joined its round (all
 * up to date at `sinceOpId` or later), and lets those whose lookups changed re-derive their
 * buckets. Only the lookups of participants `lookupsDue` names are read (by default all): those
 * whose lookups may have changed since they were read (see SyncHub). Hand the result to acceptRound.
 */
export async function readRound(
  pool: pg.Pool,
  reads: RoundReads,
  rulesId: number,
  checkpointOpId: number,
  sinceOpId: number,
  roundNumber: number,
  participants: RoundParticipant[],
  lookupsDue: (participant: RoundParticipant) => boolean = () => true,
): Promise<RoundData> {
  try {
    const known = new Map<string, string | null>();
    for (const p of participants) {
      if (!lookupsDue(p)) continue;
      for (const [key, { signature }] of p.lookups()) known.set(key, known.has(key) && known.get(key) !== signature ? null : signature);
    }
    const heldBuckets = () => {
      const held = new Set<string>();
      for (const p of participants) for (const [bucket] of p.heldBuckets()) held.add(bucket);
      return [...held];
    };
    // What changed, found by the index on last_op_id; if very many buckets changed, ask only for those held here.
    const statesRead = bucketsChangedAt(pool, rulesId, checkpointOpId, sinceOpId, 1_000 + 4 * participants.length).then(
      (changed) => changed ?? bucketStatesAt(pool, rulesId, heldBuckets(), checkpointOpId, sinceOpId, []),
    );
    // The data streams will ask for first: read it as soon as the changed buckets are known,
    // while the other queries finish and the streams plan.
    const pagesRead = statesRead.then((states) => {
      const pages = new Map<string, Promise<EncodedPage>>();
      if (states.size === 0) return pages;
      const prefetch = (bucket: string, position: number | undefined): boolean => {
        const state = states.get(bucket);
        if (position === undefined || !state || state.lastOpId <= position) return true;
        const key = pageKey(bucket, position);
        if (pages.has(key)) return true;
        if (pages.size >= MAX_PREFETCH) return false;
        pages.set(key, reads.page(bucket, position, checkpointOpId));
        return true;
      };
      // Usually a few buckets changed: look them up in each client's buckets rather than go through all of those.
      const few = states.size <= 16;
      for (const p of participants) {
        if (few) {
          for (const bucket of states.keys()) if (!prefetch(bucket, p.position(bucket))) return pages;
        } else {
          for (const [bucket, position] of p.heldBuckets()) if (!prefetch(bucket, position)) return pages;
        }
      }
      return pages;
    });
    const clients = () => {
      const all = new Map<string, { userId: string; clientId: string }>();
      for (const p of participants) all.set(clientKey(p.userId, p.clientId), { userId: p.userId, clientId: p.clientId });
      return [...all.values()];
    };
    // The pages too: streams whose lines are all in them are handed those lines without waking.
    const readyRead = pagesRead.then(async (pages) => new Map(await Promise.all([...pages].map(async ([key, page]) => [key, await page] as const))));
    const [changed, states, writeCheckpoints, pages, readyPages] = await Promise.all([
      lookupsChangedSince(pool, rulesId, known),
      statesRead,
      reads.writeCheckpoints(checkpointOpId, clients),
      pagesRead,
      readyRead,
    ]);
    let gained = new Set<string>();
    if (changed.size > 0) gained = new Set((await Promise.all(participants.map((p) => p.regrant(changed)))).flat());
    else for (const p of participants) p.abandon();
    const missing = [...gained].filter((bucket) => !states.has(bucket));
    if (missing.length > 0) for (const [bucket, state] of await bucketStatesAt(pool, rulesId, [], checkpointOpId, sinceOpId, missing)) states.set(bucket, state);
    return { checkpoint: { opId: checkpointOpId, lsn: writeCheckpoints.lsn }, round: roundNumber, states, writeCheckpoints: writeCheckpoints.ids, pages, readyPages, outputs: new Map(), diffs: new Map() };
  } catch (error: unknown) {
    for (const p of participants) p.abandon();
    throw error;
  }
}

/**
 * Hands a round's data to each participant. Those it wakes are woken WAKE_SLICE at a time, the
 * event loop turning between slices so their lines go out while later ones plan. Returns those
 * that could not use it (they became busy meanwhile), which the caller wakes so that they catch up
 * on their own, and how many were handed their lines or woken. Call once the round counts as done (SyncHub.settledRound), since streams woken
 * early may look at it before the last slice is handed its data.
 */
export async function acceptRound(round: RoundData, participants: RoundParticipant[], slice = WAKE_SLICE): Promise<AcceptedRound> {
  const accepted: AcceptedRound = { refused: [], sent: 0, woken: 0, firstSliceAt: undefined };
  for (const p of participants) {
    const outcome = p.accept(round);
    if (outcome === 'refused') accepted.refused.push(p);
    else if (outcome === 'woken' || outcome === 'sent') {
      accepted[outcome]++;
      if ((accepted.sent + accepted.woken) % slice === 0) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        // The slice's lines have gone to the sockets (the HTTP layer writes them on process.nextTick, before setImmediate).
        accepted.firstSliceAt ??= performance.now();
      }
    }
  }
  return accepted;
}

/** What acceptRound did with a round's participants. */
export interface AcceptedRound {
  /** Those that could not use the round: wake them so that they catch up on their own. */
  refused: RoundParticipant[];
  /** How many were handed their lines without waking (roundOutput), and how many were woken to send them. */
  sent: number;
  woken: number;
  /** When the first full slice had been handed out and the event loop had turned (its lines written); undefined with fewer streams than a slice. */
  firstSliceAt: number | undefined;
}

/**
 * The whole output of a shared diff (its checkpoint_diff line, data lines and completion lines) as
 * one chunk, built once per diff (roundOutputOf) and kept on it. Synchronous, so that a round can
 * hand each idle stream its lines without waking it.
 */
export function roundOutput(shared: SharedDiff, round: RoundData): Uint8Array | null {
  if (shared.bytes !== undefined) return shared.bytes;
  const { plan } = shared;
  const { lastOpId, writeCheckpoint } = plan.next;
  shared.head ??= encode.checkpointDiffLine(lastOpId, writeCheckpoint, plan.buckets, plan.removed);
  shared.bytes = roundOutputOf(shared.head, plan, round);
  return shared.bytes;
}

/**
 * A checkpoint's whole output for `plan` after the line `head`, built from the round's read pages;
 * null when some page was not read by the round, has more to send, or the output would pass
 * SHARED_OUTPUT_MAX_BYTES.
 */
export function roundOutputOf(head: string, plan: CheckpointPlan, round: RoundData): Uint8Array | null {
  const { lastOpId } = plan.next;
  const out = new LineChunks(Infinity);
  out.text(head);
  let size = head.length;
  for (const [i, group] of plan.groups.entries()) {
    for (const { bucket, after } of group.sends) {
      const page = round.readyPages.get(pageKey(bucket, after));
      if (!page || page.hasMore) return null;
      size += page.line.length;
      if (size > SHARED_OUTPUT_MAX_BYTES) return null;
      if (page.count > 0) out.bytes(page.line);
    }
    if (i < plan.groups.length - 1) out.text(encode.partialCheckpointCompleteLine(lastOpId, group.priority));
  }
  out.text(encode.checkpointCompleteLine(lastOpId));
  return out.take()!;
}
