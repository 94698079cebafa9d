import { isLockstepError } from '@/lib/sync/errors';
import { SyncErrorCode, type StreamRequest } from '@/lib/sync/protocol';
import type { SyncTokenClaims } from '../auth/tokens';
import { toProtocolError } from '../http/responses';
import type { ActiveRules, HubSubscriber, SyncHub } from '../hub/hub';
import type { SyncServerLogger } from '../log';
import * as encode from './encode';
import { planDiff, planInitial, type CheckpointPlan, type StreamState } from './plan';

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
 * slow client slows the reads instead of filling memory). Subscribes to the hub for checkpoints
 * and keepalive ticks; close() (client gone, token expired, server closing) unsubscribes and
 * clears its timer at once, even while a read is in flight.
 */
export class StreamSession implements HubSubscriber {
  private readonly hub: SyncHub;
  private readonly userId: string;
  private readonly clientId: string;
  private readonly expiresAtMs: number;
  private woken = false;
  private resume: (() => void) | undefined;
  private closed = false;
  private expired = false;
  private expiryTimer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  private keepaliveRound: number;

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
    this.expiryTimer = setTimeout(() => (left > MAX_TIMER_MS ? this.armExpiry() : ((this.expired = true), this.wake())), Math.min(left, MAX_TIMER_MS));
  }

  private secondsLeft(): number {
    return Math.max(0, Math.floor((this.expiresAtMs - Date.now()) / 1000));
  }

  /** The stream's lines; each string is one or more complete NDJSON lines. */
  async *lines(): AsyncGenerator<string, void, undefined> {
    try {
      this.armExpiry();
      this.unsubscribe = this.hub.subscribe(this);
      yield encode.tokenExpiresInLine(this.secondsLeft());
      let rules: ActiveRules | null = null;
      let state: StreamState | null = null;
      const positions = new Map<string, number>();
      for (;;) {
        if (this.closed || this.hub.isClosed) return;
        if (this.expired) {
          yield encode.tokenExpiresInLine(0);
          return;
        }
        const active = this.hub.activeRules();
        if (rules && active?.id !== rules.id) {
          yield encode.errorLine({ code: SyncErrorCode.rulesChanged, message: 'The sync rules changed; reconnect. Positions from the old rules are void and buckets restart.' });
          return;
        }
        if (active && !rules) {
          rules = active;
          const valid = this.input.request.rules_version === undefined || this.input.request.rules_version === active.tag;
          if (valid) for (const { name, after } of this.input.request.buckets) positions.set(name, Number(after));
        }
        if (rules && this.hub.latestOpId() > (state?.lastOpId ?? -1)) {
          const plan: CheckpointPlan | null = await this.plan(rules, state, positions);
          if (this.closed) return;
          if (plan) {
            if (plan.changed) yield* this.send(rules, plan, state === null);
            state = plan.next;
            continue;
          }
        }
        if (this.keepaliveRound !== this.hub.keepaliveRound) {
          this.keepaliveRound = this.hub.keepaliveRound;
          yield encode.KEEPALIVE_LINE + encode.tokenExpiresInLine(this.secondsLeft());
        }
        await this.wait();
      }
    } catch (error: unknown) {
      if (this.closed) return;
      const wire = toProtocolError(error, isLockstepError(error) ? undefined : this.input.log);
      this.input.log.warn('sync stream failed', { code: wire.code, error, userId: this.userId });
      yield encode.errorLine({ code: wire.code, message: wire.message });
    } finally {
      this.close();
    }
  }

  /** Reads the latest checkpoint for the user's buckets; null before the first checkpoint exists. */
  private async plan(rules: ActiveRules, state: StreamState | null, positions: Map<string, number>): Promise<CheckpointPlan | null> {
    const { loaders } = this.hub;
    const grants = await loaders.grants(rules.id, this.input.claims);
    const snapshot = await loaders.checkpoint(rules.id, grants.map((g) => g.bucket));
    const checkpoint = snapshot.checkpoint;
    if (!checkpoint || (state && checkpoint.opId <= state.lastOpId)) return null;
    const writeCheckpoint = checkpoint.lsn === null ? null : await loaders.writeCheckpoint(this.userId, this.clientId, checkpoint.lsn);
    if (state === null) return planInitial(grants, snapshot.buckets, positions, checkpoint.opId, writeCheckpoint);
    return planDiff(state, grants, snapshot.buckets, checkpoint.opId, writeCheckpoint);
  }

  /** The checkpoint (or diff) line, each priority's data, and the completion lines. */
  private async *send(rules: ActiveRules, plan: CheckpointPlan, initial: boolean): AsyncGenerator<string, void, undefined> {
    const { lastOpId, writeCheckpoint } = plan.next;
    yield initial
      ? encode.checkpointLine(lastOpId, writeCheckpoint, rules.tag, plan.buckets)
      : encode.checkpointDiffLine(lastOpId, writeCheckpoint, plan.buckets, plan.removed);
    for (const [i, group] of plan.groups.entries()) {
      for (const { bucket, after } of group.sends) yield* this.bucketData(rules.id, bucket, after, lastOpId);
      if (this.closed) return;
      if (i < plan.groups.length - 1) yield encode.partialCheckpointCompleteLine(lastOpId, group.priority);
    }
    yield encode.checkpointCompleteLine(lastOpId);
  }

  /** A bucket's ops in (after, upTo], a page at a time; the next page is read while this one is sent. */
  private async *bucketData(rulesId: number, bucket: string, after: number, upTo: number): AsyncGenerator<string, void, undefined> {
    let next = this.hub.loaders.page(rulesId, bucket, after, upTo);
    for (;;) {
      const page = await next;
      if (this.closed || page.count === 0) return;
      if (page.hasMore) next = this.hub.loaders.page(rulesId, bucket, page.nextAfter, upTo);
      yield page.line;
      if (!page.hasMore) return;
    }
  }
}
