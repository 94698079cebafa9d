import type pg from 'pg';
import type { CompiledSyncRules } from '@/lib/sync/config';
import { SyncErrorCode, SyncProtocolError } from '@/lib/sync/protocol';
import { latestCheckpoint, listenCheckpoints, parameterNoticesEnabled, rulesVersionInState, type CheckpointListener, type CheckpointNotice, type PageLimits, type RulesVersion } from '@/lib/sync/storage';
import type { SyncServerLogger } from '../log';
import { createLoaders, type StreamLoaders } from './loaders';
import { acceptRound, readRound, type RoundData, type RoundParticipant, type RoundReads } from './round';
import { WriteCheckpointWindow } from './write-checkpoint-window';

/** The rules version streams are served from. */
export interface ActiveRules {
  id: number;
  /** `rules_version` on the wire: changes whenever op ids start over. */
  tag: string;
}

/** A stream of this process: takes part in checkpoint rounds, woken on keepalive ticks and version changes. */
export type HubSubscriber = RoundParticipant;

export interface SyncHubOptions {
  storageUrl: string;
  storagePool: pg.Pool;
  rules: CompiledSyncRules;
  log: SyncServerLogger;
  /** Interval of keepalive lines on idle streams. */
  keepaliveMs: number;
  page: PageLimits;
  /** How long a request waits for bucket storage before it is answered 503. */
  readyTimeoutMs?: number;
  /**
   * Shared checkpoint rounds for idle streams (default true). Off, every stream reads each new
   * checkpoint for itself (still batched per turn): simpler, and slower with many streams.
   */
  rounds?: boolean;
  /** Streams a round hands their lines to before it lets the event loop write them (default round.ts WAKE_SLICE). */
  wakeSlice?: number;
}

const REFRESH_MIN_INTERVAL_MS = 200;

/**
 * A round still checks every stream's parameter lookups this often, notices or not (and every
 * round does when bucket storage sends no parameter notices: migration 0012 not applied).
 */
export const LOOKUPS_FULL_CHECK_MS = 60_000;

/**
 * One per process: the single LISTEN connection on bucket storage, fanned out to every stream of
 * the process. Each new checkpoint runs one round (hub/round.ts) for all idle streams, which wakes
 * only those whose client it changes; streams that are busy or new catch up on their own through
 * the shared, batching loaders. Holds no per-stream state but the set of subscribers.
 */
export class SyncHub {
  readonly loaders: StreamLoaders;
  readonly rules: CompiledSyncRules;
  readonly page: PageLimits;
  private listener: CheckpointListener | undefined;
  private starting: Promise<void> | undefined;
  private active: ActiveRules | null = null;
  /** Highest checkpoint of the active version heard of. */
  private noticed = 0;
  /** Checkpoint up to which rounds are done: a stream behind it catches up by itself. */
  private settled = 0;
  /**
   * Counts finished rounds. A checkpoint can keep the previous op id and only move its LSN on
   * (a write checkpoint asked for it, or only parameter lookups changed); a stream that has not
   * seen the latest round re-reads its checkpoint even when its op id is current.
   */
  private round = 0;
  private roundRunning = false;
  private roundAgain = false;
  private readonly subscribers = new Set<HubSubscriber>();
  private readonly writeCheckpoints = new WriteCheckpointWindow();
  private ticker: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | undefined;
  private refreshAgain = false;
  private lastRefresh = 0;
  private closed = false;
  /** Incremented on every keepalive tick; a stream sends a keepalive when it sees it change. */
  keepaliveRound = 0;
  /**
   * What the rounds did so far (for tests, monitoring and bench/stream.ts): rounds run, streams
   * handed their lines straight into their response (no wake), streams woken to send them, and the
   * milliseconds spent from each round's checkpoint notice to its reads done, and handing it out;
   * of the rounds that handed out at least a slice (round.ts WAKE_SLICE), the milliseconds from
   * reads done to the first slice's lines written; and the streams whose parameter lookups rounds
   * read again (the others' could not have changed: see `parametersEpoch`), and the streams rounds
   * left to catch up by themselves (busy or behind when the round started, or refusing its data).
   */
  readonly roundCounts = { rounds: 0, sent: 0, woken: 0, readMs: 0, handMs: 0, firstSliceMs: 0, slicedRounds: 0, lookupsRead: 0, catchingUp: 0 };
  /** When the checkpoint the next round serves was announced. */
  private noticedAt = 0;
  /**
   * Moves on whenever the parameter index may have changed: on each of its notices (heard before
   * the notice of the checkpoint that includes the change), and each time the LISTEN connection
   * (re)connects, since notices sent while it was down are lost. A stream notes it before it reads
   * its lookups; a round checks again only the lookups of streams that noted an older one.
   */
  private parametersEpoch = 1;
  /** Whether bucket storage sends parameter notices; until known, every round checks every stream's lookups. */
  private parameterNotices = false;
  private lastFullLookups = -Infinity;

  constructor(private readonly options: SyncHubOptions) {
    this.rules = options.rules;
    this.page = options.page;
    this.loaders = createLoaders(options.storagePool, options.rules, options.page);
  }

  /**
   * Starts listening (once per hub) and reads the active rules version and its latest
   * checkpoint. Throws SYNC_UNAVAILABLE when bucket storage cannot be reached in time.
   */
  ready(): Promise<void> {
    if (this.closed) return Promise.reject(new SyncProtocolError(SyncErrorCode.unavailable, 'The sync server is shutting down.'));
    this.starting ??= this.start().catch((error: unknown) => {
      this.starting = undefined;
      throw error;
    });
    return this.starting;
  }

  private async start(): Promise<void> {
    const timeoutMs = this.options.readyTimeoutMs ?? 10_000;
    this.listener ??= listenCheckpoints(this.options.storageUrl, (notice) => this.onNotice(notice), {
      onConnect: ({ reconnect }) => {
        // Notices sent while the connection was down are lost: lookups may have changed unheard;
        // re-read, then wake everyone.
        this.parametersEpoch++;
        if (reconnect) void this.refresh(true);
      },
      onParameterChange: () => {
        this.parametersEpoch++;
      },
      onError: (error) => this.options.log.warn('checkpoint listener', { error }),
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new SyncProtocolError(SyncErrorCode.unavailable, `Bucket storage did not answer within ${timeoutMs} ms.`)), timeoutMs);
    });
    try {
      await Promise.race([this.listener.ready, timeout]);
      await Promise.race([this.refresh(true), timeout]);
      this.writeCheckpoints.observe(this.options.storagePool).catch((error: unknown) => this.options.log.warn('could not read the latest write checkpoint id', { error }));
    } finally {
      clearTimeout(timer);
    }
  }

  /** The version served now, or null before the replicator has activated one. */
  activeRules(): ActiveRules | null {
    return this.active;
  }

  /**
   * The checkpoint op id the process's rounds have reached. A stream whose client is behind it,
   * and that the round did not bring forward, catches up by itself.
   */
  settledOpId(): number {
    return this.settled;
  }

  /** The number of the last finished round (see `round`). */
  settledRound(): number {
    return this.round;
  }

  /** The parameter epoch (see `parametersEpoch`): note it before reading a stream's lookups. */
  lookupsEpoch(): number {
    return this.parametersEpoch;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Number of streams subscribed right now. */
  get streamCount(): number {
    return this.subscribers.size;
  }

  /** Adds a stream to the fan-out; call the returned function when it ends. */
  subscribe(subscriber: HubSubscriber): () => void {
    this.subscribers.add(subscriber);
    if (!this.ticker) {
      this.ticker = setInterval(() => {
        this.keepaliveRound++;
        this.wakeAll();
      }, this.options.keepaliveMs);
      this.ticker.unref();
    }
    return () => {
      this.subscribers.delete(subscriber);
      if (this.subscribers.size === 0 && this.ticker) {
        clearInterval(this.ticker);
        this.ticker = undefined;
      }
    };
  }

  private wakeAll(): void {
    for (const subscriber of this.subscribers) subscriber.wake();
  }

  private onNotice(notice: CheckpointNotice): void {
    if (this.active && notice.rulesId === this.active.id) {
      this.onCheckpoint(notice.opId);
      return;
    }
    // A checkpoint of another version: it may just have been activated.
    void this.refresh(false);
  }

  private onCheckpoint(opId: number): void {
    // Equal op ids count: such a checkpoint can still change write checkpoints and grants.
    if (opId < this.noticed) return;
    this.noticed = opId;
    // The first notice the coming round serves: the others wait less.
    if (!this.roundAgain) this.noticedAt = performance.now();
    if (this.roundRunning) {
      this.roundAgain = true;
      return;
    }
    void this.runRounds();
  }

  /** Rounds back to back until no checkpoint arrived during the last one. */
  private async runRounds(): Promise<void> {
    this.roundRunning = true;
    try {
      let first = true;
      do {
        // Streams the last round woke write their lines within the turn: let them finish and wait
        // again, so that they join this round instead of each reading the checkpoint by itself.
        if (!first) await new Promise<void>((resolve) => setImmediate(resolve));
        first = false;
        this.roundAgain = false;
        const active = this.active;
        if (!active || this.closed) break;
        const target = this.noticed;
        const since = this.settled;
        const round = this.round + 1;
        const noticedAt = this.noticedAt;
        const joined: HubSubscriber[] = [];
        const others: HubSubscriber[] = [];
        const rounds = this.options.rounds ?? true;
        for (const subscriber of this.subscribers) (rounds && subscriber.joinable(active.id, since) ? joined : others).push(subscriber);
        let data: RoundData | undefined;
        // Taken before the lookups are read: a notice heard meanwhile makes the next round check again.
        const epoch = this.parametersEpoch;
        let lookupsDue: (participant: HubSubscriber) => boolean = () => true;
        if (joined.length > 0) {
          const reads: RoundReads = {
            page: (bucket, after, upTo) => this.loaders.page(active.id, bucket, after, upTo),
            writeCheckpoints: (opId, clients) => this.writeCheckpoints.read(this.options.storagePool, active.id, opId, clients),
          };
          const now = performance.now();
          const full = !this.parameterNotices || now - this.lastFullLookups >= LOOKUPS_FULL_CHECK_MS;
          if (full) this.lastFullLookups = now;
          lookupsDue = (p) => full || p.lookupsEpoch < epoch;
          for (const p of joined) if (lookupsDue(p)) this.roundCounts.lookupsRead++;
          try {
            data = await readRound(this.options.storagePool, reads, active.id, target, since, round, joined, lookupsDue);
          } catch (error: unknown) {
            this.options.log.warn('checkpoint round failed; streams catch up one by one', { error });
            this.writeCheckpoints.reset();
            others.push(...joined);
          }
        }
        if (this.active?.id !== active.id) {
          for (const subscriber of joined) subscriber.abandon();
          break;
        }
        // Those about to be handed the data wait for it, even if woken before their slice's turn.
        if (data) for (const p of joined) p.awaitingRound = round;
        // Done before the streams take the data: one woken early checks it before the last are handed theirs.
        this.settled = Math.max(this.settled, target);
        this.round = round;
        if (data) {
          this.writeCheckpoints.settle(data.checkpoint.lsn);
          const read = performance.now();
          let accepted: Awaited<ReturnType<typeof acceptRound>>;
          try {
            accepted = await acceptRound(data, joined, this.options.wakeSlice);
          } finally {
            // Also when a hand-out fails: a stream still marked would not read the checkpoint itself.
            for (const p of joined) p.awaitingRound = undefined;
          }
          others.push(...accepted.refused);
          // Those that took the round hold the lookups it checked (re-derived where they changed);
          // those that refused it keep their epoch and read their lookups themselves.
          const refused = new Set(accepted.refused);
          for (const p of joined) if (lookupsDue(p) && !refused.has(p)) p.lookupsEpoch = Math.max(p.lookupsEpoch, epoch);
          const counts = this.roundCounts;
          counts.rounds++;
          counts.sent += accepted.sent;
          counts.woken += accepted.woken;
          counts.readMs += read - noticedAt;
          counts.handMs += performance.now() - read;
          if (accepted.firstSliceAt !== undefined) {
            counts.slicedRounds++;
            counts.firstSliceMs += accepted.firstSliceAt - read;
          }
        }
        this.roundCounts.catchingUp += others.length;
        for (const subscriber of others) subscriber.wake();
      } while (this.roundAgain && !this.closed);
    } finally {
      this.roundRunning = false;
    }
  }

  /**
   * Re-reads the active version and its latest checkpoint, then wakes every stream. Concurrent
   * calls coalesce; notices of a version still being built are throttled to a few reads a second.
   */
  private refresh(force: boolean): Promise<void> {
    if (this.refreshing) {
      this.refreshAgain = true;
      return this.refreshing;
    }
    const wait = force ? 0 : Math.max(0, this.lastRefresh + REFRESH_MIN_INTERVAL_MS - Date.now());
    this.refreshing = (async () => {
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      this.lastRefresh = Date.now();
      try {
        // Asked again on every refresh (reconnects included): storage may have been migrated since.
        this.parameterNotices = await parameterNoticesEnabled(this.options.storagePool);
        const version = await rulesVersionInState(this.options.storagePool, 'active');
        const next = version ? { id: version.id, tag: rulesTag(version) } : null;
        const checkpoint = next ? await latestCheckpoint(this.options.storagePool, next.id) : null;
        if (next?.id !== this.active?.id) {
          // Another version (or the first): its op ids start over; every stream ends or starts afresh.
          this.active = next;
          this.noticed = this.settled = checkpoint?.opId ?? 0;
          this.writeCheckpoints.reset();
          this.wakeAll();
        } else if (checkpoint) {
          this.onCheckpoint(checkpoint.opId);
        }
      } finally {
        this.refreshing = undefined;
      }
      if (this.refreshAgain && !this.closed) {
        this.refreshAgain = false;
        await this.refresh(false);
      }
    })();
    this.refreshing.catch((error: unknown) => this.options.log.warn('could not read the active sync rules version', { error }));
    return this.refreshing;
  }

  /** Stops listening and ends every stream (each sends no more lines). */
  async close(): Promise<void> {
    this.closed = true;
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = undefined;
    this.wakeAll();
    await this.listener?.close();
    this.listener = undefined;
  }
}

/** The wire's rules_version: the storage id and creation time, so a recreated storage gets new tags. */
export function rulesTag(version: Pick<RulesVersion, 'id' | 'createdAt'>): string {
  return `${version.id}.${version.createdAt.getTime().toString(36)}`;
}
