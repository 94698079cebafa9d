import type { BucketGrant } from '@/lib/sync/config';
import { isLockstepError } from '@/lib/sync/errors';
import { SyncErrorCode, type StreamRequest } from '@/lib/sync/protocol';
import { clientKey, type BucketState, type LookupValues } from '@/lib/sync/storage';
import type { SyncTokenClaims } from '../auth/tokens';
import { toProtocolError } from '../http/responses';
import type { ActiveRules, HubSubscriber, SyncHub } from '../hub/hub';
import type { EncodedPage } from '../hub/loaders';
import { pageKey, roundOutput, roundOutputOf, type RoundData, type SharedDiff } from '../hub/round';
import type { SyncServerLogger } from '../log';
import { LineChunks } from './chunks';
import { withHasMore } from './data-line';
import * as encode from './encode';
import { advanceState, diffKey, heldState, planDiff, planInitial, splitRange, type CheckpointPlan, type StreamState } from './plan';

/** Lines are handed to the HTTP layer once this many bytes have gathered (or the checkpoint is done); a page this large goes alone. */
const FLUSH_BYTES = 64 * 1024;

/**
 * Ranges of a large bucket whose first page is read while the current range is sent: two queries
 * at a time. More did not help on a 2-core machine (bench/stream.ts); each costs a page of memory.
 */
const LOOKAHEAD = 1;

/**
 * After the token expires, a stream still sending gets this long to reach a page boundary and end
 * (the client must read for that); then it is cut off, so a client that stopped reading cannot
 * keep a stream past its token.
 */
const EXPIRY_GRACE_MS = 5_000;

/** setTimeout's longest delay (about 24.8 days); longer token lifetimes re-arm the timer. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface StreamSessionInput {
  hub: SyncHub;
  claims: SyncTokenClaims;
  request: StreamRequest;
  log: SyncServerLogger;
}

/**
 * One sync stream: the lines sent to one client, produced on demand (the consumer pulls, so a
 * slow client slows the reads instead of filling memory). While idle it takes part in the hub's
 * checkpoint rounds, which hand it a ready plan only when a checkpoint changes something for its
 * client; when busy or new it reads what it needs itself. close() (client gone, token expired,
 * server closing) unsubscribes and clears its timer at once, even while a read is in flight.
 */
export class StreamSession implements HubSubscriber {
  readonly userId: string;
  readonly clientId: string;
  private readonly hub: SyncHub;
  private readonly expiresAtMs: number;
  private woken = false;
  private resume: (() => void) | undefined;
  private closed = false;
  private expired = false;
  private busy = true;
  private expiryTimer: NodeJS.Timeout | undefined;
  /** Set by the response body: ends the HTTP response at once (see EXPIRY_GRACE_MS). */
  terminate: (() => void) | undefined;
  /**
   * Set by the response body: hands it a chunk outside lines(), when it has room for it now
   * (returns false otherwise). Rounds use it for idle streams (see accept).
   */
  deliver: ((chunk: Uint8Array) => boolean) | undefined;
  private unsubscribe: (() => void) | undefined;
  private keepaliveRound: number;
  private rules: ActiveRules | null = null;
  private state: StreamState | null = null;
  /** The hub round whose checkpoint this stream last read or was handed (SyncHub.settledRound). */
  private seenRound = -1;
  /** SyncHub.lookupsEpoch when lookupValues were read (or last checked by a round). */
  lookupsEpoch = 0;
  /** Set by the hub while a round it joined is being handed out (see RoundParticipant.awaitingRound). */
  awaitingRound: number | undefined;
  private grants: BucketGrant[] = [];
  private lookupValues = new Map<string, LookupValues>();
  /** Prepared by regrant during a round, kept by accept. */
  private regranted: { grants: BucketGrant[]; lookups: Map<string, LookupValues> } | undefined;
  /** A plan a round handed over, sent on the next turn of the loop, with the round (its pages read ahead, its shared outputs). */
  private offered: CheckpointPlan | undefined;
  private offeredRound: RoundData | undefined;
  private offeredDiff: SharedDiff | undefined;

  constructor(private readonly input: StreamSessionInput) {
    this.hub = input.hub;
    this.userId = input.claims.sub;
    this.clientId = input.request.client_id;
    this.expiresAtMs = input.claims.exp * 1000;
    this.keepaliveRound = input.hub.keepaliveRound;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Called by the hub; resumes the stream if it is waiting. */
  wake(): void {
    this.woken = true;
    const resume = this.resume;
    this.resume = undefined;
    resume?.();
  }

  /** Ends the stream and frees what it holds. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    clearTimeout(this.expiryTimer);
    this.wake();
  }

  // ── the hub's checkpoint rounds (hub/round.ts) ─────────────────────────────────────────────

  joinable(rulesId: number, sinceOpId: number): boolean {
    return !this.closed && !this.busy && this.offered === undefined && this.state !== null && this.rules?.id === rulesId && this.state.lastOpId >= sinceOpId;
  }

  lookups(): ReadonlyMap<string, LookupValues> {
    return this.lookupValues;
  }

  *heldBuckets(): Iterable<[bucket: string, position: number]> {
    if (this.state) for (const [bucket, held] of this.state.buckets) yield [bucket, held.position];
  }

  position(bucket: string): number | undefined {
    return this.state?.buckets.get(bucket)?.position;
  }

  async regrant(changed: ReadonlyMap<string, LookupValues>): Promise<string[]> {
    this.regranted = undefined;
    let mine: Map<string, LookupValues> | undefined;
    for (const [key, before] of this.lookupValues) {
      const now = changed.get(key);
      if (!now || now.signature === before.signature) continue;
      mine ??= new Map(this.lookupValues);
      mine.set(key, now);
    }
    if (!mine) return [];
    const values = new Map([...mine].map(([key, found]) => [key, found.values]));
    const grants = await this.hub.rules.bucketsForToken(this.input.claims, async () => values);
    this.regranted = { grants, lookups: mine };
    const held = this.state?.buckets;
    return grants.filter((g) => !held?.has(g.bucket)).map((g) => g.bucket);
  }

  accept(round: RoundData): 'sent' | 'woken' | 'idle' | 'refused' {
    const regranted = this.regranted;
    this.regranted = undefined;
    this.awaitingRound = undefined;
    // An equal op id is a checkpoint that only moved its LSN: it may still bring a write checkpoint or new grants.
    if (!this.joinable(this.rules?.id ?? -1, 0) || round.checkpoint.opId < this.state!.lastOpId) return 'refused';
    const state = this.state!;
    // Most rounds reach no write checkpoint at all: no key to build then.
    let writeCheckpoint = round.checkpoint.lsn === null || round.writeCheckpoints.size === 0 ? null : (round.writeCheckpoints.get(clientKey(this.userId, this.clientId)) ?? null);
    // Rounds may hand an id the client has already been sent (or an older one): not news.
    if (writeCheckpoint !== null && state.writeCheckpoint !== null && writeCheckpoint <= state.writeCheckpoint) writeCheckpoint = null;
    if (!regranted && writeCheckpoint === null && !someHeld(state, round.states)) {
      // Nothing of this client's changed: move on without a plan (most streams, most rounds).
      state.lastOpId = Math.max(state.lastOpId, round.checkpoint.opId);
      this.seenRound = round.round;
      return 'idle';
    }
    const grants = regranted?.grants ?? this.grants;
    // Most clients of a fan-out get the same lines: plan them once per round, then only move each client's state on.
    const key = regranted ? undefined : diffKey(state, grants, round.states, writeCheckpoint);
    let shared = key === undefined ? undefined : round.diffs.get(key);
    let plan: CheckpointPlan;
    if (shared) {
      plan = { ...shared.plan, next: advanceState(state, round.states, round.checkpoint.opId, writeCheckpoint) };
    } else {
      const states = new Map<string, BucketState>();
      for (const grant of grants) {
        const held = state.buckets.get(grant.bucket);
        const current = round.states.get(grant.bucket) ?? (held ? heldState(held) : undefined);
        if (!current) return 'refused';
        states.set(grant.bucket, current);
      }
      plan = planDiff(state, grants, states, round.checkpoint.opId, writeCheckpoint);
      if (key !== undefined) round.diffs.set(key, (shared = { plan }));
    }
    this.grants = grants;
    if (regranted) this.lookupValues = regranted.lookups;
    // Only a round this stream used counts as seen: one it could not use leaves it to re-read by itself.
    this.seenRound = round.round;
    if (!plan.changed) {
      this.state = plan.next;
      return 'idle';
    }
    // Waiting in lines() with nothing half sent: hand the shared lines straight to the response
    // body instead of waking (no generator turn, no pull; the most common fan-out case).
    if (shared && this.resume && !this.expired && this.deliver) {
      const bytes = roundOutput(shared, round);
      if (bytes && this.deliver(bytes)) {
        this.state = plan.next;
        return 'sent';
      }
    }
    this.offered = plan;
    this.offeredRound = round;
    this.offeredDiff = shared;
    this.wake();
    return 'woken';
  }

  abandon(): void {
    this.regranted = undefined;
  }

  // ── the stream ──────────────────────────────────────────────────────────────────────────────

  private wait(): Promise<void> {
    if (this.woken || this.closed) {
      this.woken = false;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      this.resume = () => {
        this.woken = false;
        resolve();
      };
    });
  }

  private armExpiry(): void {
    const left = this.expiresAtMs - Date.now();
    if (left <= 0) {
      this.expired = true;
      return;
    }
    this.expiryTimer = setTimeout(() => {
      if (left > MAX_TIMER_MS) return this.armExpiry();
      this.expired = true;
      this.wake();
      this.expiryTimer = setTimeout(() => this.terminate?.(), EXPIRY_GRACE_MS);
    }, Math.min(left, MAX_TIMER_MS));
  }

  private secondsLeft(): number {
    return Math.max(0, Math.floor((this.expiresAtMs - Date.now()) / 1000));
  }

  /** The stream's lines as UTF-8; each chunk is one or more complete NDJSON lines. */
  async *lines(): AsyncGenerator<Uint8Array, void, undefined> {
    try {
      this.armExpiry();
      this.unsubscribe = this.hub.subscribe(this);
      yield utf8(encode.tokenExpiresInLine(this.secondsLeft()));
      const positions = new Map<string, number>();
      for (;;) {
        this.busy = true;
        if (this.closed || this.hub.isClosed) return;
        if (this.expired) {
          yield utf8(encode.tokenExpiresInLine(0));
          return;
        }
        const active = this.hub.activeRules();
        if (this.rules && active?.id !== this.rules.id) {
          yield utf8(encode.errorLine({ code: SyncErrorCode.rulesChanged, message: 'The sync rules changed; reconnect. Positions from the old rules are void and buckets restart.' }));
          return;
        }
        if (active && !this.rules) {
          this.rules = active;
          const valid = this.input.request.rules_version === undefined || this.input.request.rules_version === active.tag;
          if (valid) for (const { name, after } of this.input.request.buckets) positions.set(name, Number(after));
        }
        let plan = this.offered;
        const round = this.offeredRound;
        const diff = this.offeredDiff;
        this.offered = this.offeredRound = this.offeredDiff = undefined;
        // A round that is handing this stream its data right now (woken before its slice's turn, by a
        // keepalive tick): wait for it rather than read the same checkpoint alone.
        const handedSoon = this.awaitingRound !== undefined && this.awaitingRound === this.hub.settledRound();
        if (!plan && this.rules && !handedSoon && (this.state === null || this.hub.settledOpId() > this.state.lastOpId || this.hub.settledRound() !== this.seenRound)) plan = await this.plan(this.rules, positions);
        if (this.closed) return;
        if (plan) {
          const sent = plan.changed ? yield* this.send(this.rules!, plan, this.state === null, round, diff) : true;
          if (sent) this.state = plan.next;
          continue;
        }
        if (this.keepaliveRound !== this.hub.keepaliveRound) {
          this.keepaliveRound = this.hub.keepaliveRound;
          yield utf8(encode.KEEPALIVE_LINE + encode.tokenExpiresInLine(this.secondsLeft()));
        }
        this.busy = false;
        await this.wait();
      }
    } catch (error: unknown) {
      if (this.closed) return;
      const wire = toProtocolError(error, isLockstepError(error) ? undefined : this.input.log);
      this.input.log.warn('sync stream failed', { code: wire.code, error, userId: this.userId });
      yield utf8(encode.errorLine({ code: wire.code, message: wire.message }));
    } finally {
      this.close();
    }
  }

  /** Reads the latest checkpoint for the user's buckets itself; undefined when there is nothing newer (or no checkpoint yet). */
  private async plan(rules: ActiveRules, positions: Map<string, number>): Promise<CheckpointPlan | undefined> {
    const { loaders } = this.hub;
    this.seenRound = this.hub.settledRound();
    // Noted before the read: a parameter notice heard meanwhile makes the next round check these lookups.
    const epoch = this.hub.lookupsEpoch();
    const { grants, lookups } = await loaders.grants(rules.id, this.input.claims);
    const snapshot = await loaders.checkpoint(rules.id, grants.map((g) => g.bucket));
    const checkpoint = snapshot.checkpoint;
    const state = this.state;
    // The same op id as the client's can still carry a newer write checkpoint or grants (planDiff decides).
    if (!checkpoint || (state && checkpoint.opId < state.lastOpId)) return undefined;
    const writeCheckpoint = checkpoint.lsn === null ? null : await loaders.writeCheckpoint(this.userId, this.clientId, checkpoint.lsn);
    this.grants = grants;
    this.lookupValues = lookups;
    this.lookupsEpoch = epoch;
    if (state === null) return planInitial(grants, snapshot.buckets, positions, checkpoint.opId, writeCheckpoint);
    return planDiff(state, grants, snapshot.buckets, checkpoint.opId, writeCheckpoint);
  }

  /**
   * The checkpoint (or diff) line, each priority's data, and the completion lines. Lines are
   * gathered up to FLUSH_BYTES before they are handed on, so a small change reaches each client in
   * one write instead of five. Returns false when cut short (closed, or the token expired): the
   * client then has part of the checkpoint, which it never applies without checkpoint_complete.
   */
  private async *send(rules: ActiveRules, plan: CheckpointPlan, initial: boolean, round?: RoundData, diff?: SharedDiff): AsyncGenerator<Uint8Array, boolean, undefined> {
    const { lastOpId, writeCheckpoint } = plan.next;
    const diffLine = () => encode.checkpointDiffLine(lastOpId, writeCheckpoint, plan.buckets, plan.removed);
    const head = initial ? encode.checkpointLine(lastOpId, writeCheckpoint, rules.tag, plan.buckets) : diff ? (diff.head ??= diffLine()) : diffLine();
    if (round && !initial) {
      const shared = diff ? roundOutput(diff, round) : sharedOutput(head, plan, round);
      if (shared) {
        yield shared;
        return true;
      }
    }
    const pages = round?.pages;
    const out = new LineChunks(FLUSH_BYTES);
    out.text(head);
    for (const [i, group] of plan.groups.entries()) {
      for (const { bucket, after } of group.sends) {
        const held = plan.next.buckets.get(bucket)!;
        // Ops left to send, assuming the bucket's ops spread evenly over its op ids.
        const left = held.position > 0 ? (held.count * (held.position - after)) / held.position : 0;
        const ranges = splitRange(after, held.position, left, this.hub.page.maxOps);
        for await (const line of this.bucketData(rules.id, bucket, ranges, pages?.get(pageKey(bucket, after)))) {
          for (const chunk of out.bytes(line)) yield chunk;
        }
      }
      if (this.closed || this.expired) {
        const rest = out.take();
        if (rest && !this.closed) yield rest;
        return false;
      }
      if (i < plan.groups.length - 1) out.text(encode.partialCheckpointCompleteLine(lastOpId, group.priority));
    }
    out.text(encode.checkpointCompleteLine(lastOpId));
    yield out.take()!;
    return true;
  }

  /**
   * A bucket's ops over consecutive ranges, a page at a time: the next page of the range, and the
   * first page of the next LOOKAHEAD ranges, are read while this one is sent (so at most
   * 2 + LOOKAHEAD pages are in memory).
   * `first` is the first page when a round has already started reading it.
   */
  private async *bucketData(rulesId: number, bucket: string, ranges: Array<{ after: number; upTo: number }>, first?: Promise<EncodedPage>): AsyncGenerator<Uint8Array, void, undefined> {
    const { loaders } = this.hub;
    const read = (i: number) => loaders.page(rulesId, bucket, ranges[i]!.after, ranges[i]!.upTo);
    // First pages of the ranges being read ahead, by range index.
    const ahead = new Map<number, Promise<EncodedPage>>([[0, ranges.length === 1 && first ? first : read(0)]]);
    for (let i = 0; i < ranges.length; i++) {
      for (let j = i + 1; j <= i + LOOKAHEAD && j < ranges.length; j++) if (!ahead.has(j)) ahead.set(j, read(j));
      let current = ahead.get(i)!;
      ahead.delete(i);
      for (;;) {
        const page = await current;
        if (this.closed || this.expired) return;
        if (page.count === 0) break;
        if (page.hasMore) {
          current = loaders.page(rulesId, bucket, page.nextAfter, ranges[i]!.upTo);
          yield page.line;
          continue;
        }
        // The range's last page: `has_more` says whether a later range holds ops (their first
        // pages are being read ahead anyway; an empty one is skipped by the loop above).
        let later = false;
        for (let j = i + 1; j < ranges.length && !later; j++) {
          if (!ahead.has(j)) ahead.set(j, read(j));
          later = (await ahead.get(j)!).count > 0;
          if (this.closed || this.expired) return;
        }
        if (later) yield* withHasMore(page.line);
        else yield page.line;
        break;
      }
    }
  }
}

/**
 * A round's checkpoint for this plan as one chunk, shared with every stream of the round whose
 * client gets the same lines (same head line, same pages from the same positions): the first
 * stream builds it (roundOutputOf), the others write the same bytes. Null when the data is not
 * entirely in the round's pages (a bucket with more than a page to send, or one the round did not read).
 */
function sharedOutput(head: string, plan: CheckpointPlan, round: RoundData): Uint8Array | null {
  let key = head;
  for (const group of plan.groups) {
    key += `\u0000${group.priority}`;
    for (const { bucket, after } of group.sends) {
      if (!round.readyPages.has(pageKey(bucket, after))) return null;
      key += `\u0001${bucket}\u0001${after}`;
    }
  }
  let output = round.outputs.get(key);
  if (output === undefined) {
    output = roundOutputOf(head, plan, round);
    round.outputs.set(key, output);
  }
  return output;
}

function utf8(lines: string): Uint8Array {
  return Buffer.from(lines, 'utf8');
}

function someHeld(state: StreamState, changed: ReadonlyMap<string, BucketState>): boolean {
  for (const bucket of state.buckets.keys()) if (changed.has(bucket)) return true;
  return false;
}
