import type pg from 'pg';
import type { CompiledSyncRules } from '@/lib/sync/config';
import { SyncErrorCode, SyncProtocolError } from '@/lib/sync/protocol';
import { latestCheckpoint, listenCheckpoints, rulesVersionInState, type CheckpointListener, type CheckpointNotice, type PageLimits, type RulesVersion } from '@/lib/sync/storage';
import type { SyncServerLogger } from '../log';
import { createLoaders, type StreamLoaders } from './loaders';

/** The rules version streams are served from. */
export interface ActiveRules {
  id: number;
  /** `rules_version` on the wire: changes whenever op ids start over. */
  tag: string;
}

/** A stream waiting for news: woken on every checkpoint, keepalive tick and version change. */
export interface HubSubscriber {
  wake(): void;
}

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
}

const REFRESH_MIN_INTERVAL_MS = 200;

/**
 * One per process: the single LISTEN connection on bucket storage, fanned out to every stream of
 * the process, plus the shared, batching loaders streams read through. Holds no per-stream state
 * but the set of subscribers, so an idle stream costs one set entry here.
 */
export class SyncHub {
  readonly loaders: StreamLoaders;
  private listener: CheckpointListener | undefined;
  private starting: Promise<void> | undefined;
  private active: ActiveRules | null = null;
  private latest = 0;
  private readonly subscribers = new Set<HubSubscriber>();
  private ticker: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | undefined;
  private refreshAgain = false;
  private lastRefresh = 0;
  private closed = false;
  /** Incremented on every keepalive tick; a stream sends a keepalive when it sees it change. */
  keepaliveRound = 0;

  constructor(private readonly options: SyncHubOptions) {
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
        // Notices sent while the connection was down are lost: re-read, then wake everyone.
        if (reconnect) void this.refresh(true);
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
    } finally {
      clearTimeout(timer);
    }
  }

  /** The version served now, or null before the replicator has activated one. */
  activeRules(): ActiveRules | null {
    return this.active;
  }

  /** The highest checkpoint op id of the active version known to this process. */
  latestOpId(): number {
    return this.latest;
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
      if (notice.opId > this.latest) {
        this.latest = notice.opId;
        this.wakeAll();
      }
      return;
    }
    // A checkpoint of another version: it may just have been activated.
    void this.refresh(false);
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
        const version = await rulesVersionInState(this.options.storagePool, 'active');
        const next = version ? { id: version.id, tag: rulesTag(version) } : null;
        const checkpoint = next ? await latestCheckpoint(this.options.storagePool, next.id) : null;
        if (next?.id !== this.active?.id) this.latest = 0;
        this.active = next;
        this.latest = Math.max(this.latest, checkpoint?.opId ?? 0);
      } finally {
        this.refreshing = undefined;
      }
      this.wakeAll();
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
