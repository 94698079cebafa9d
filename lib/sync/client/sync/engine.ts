import { errorBodySchema, MediaType, SyncErrorCode, SyncHeader, SyncPath, TOKEN_ERROR_CODES, type SyncLine } from '@/lib/sync/protocol';
import { ClientErrorCode, serializeError, SyncClientError } from '../errors';
import { epochMs, silentLogger, type ClientLogger } from '../log';
import { initialStatus, type StorageKind, type SyncStatus } from '../status';
import type { LocalStore } from '../storage/local-store';
import { preparePage, type PreparedPage } from '../storage/pages';
import { emptyUploadQueue, type UploadQueue } from '../upload-queue';
import { Backoff, DEFAULT_BACKOFF, type BackoffOptions } from './backoff';
import { CheckpointSync, type CompleteOutcome } from './checkpoint-sync';
import { parseLine } from './lines';
import { readLines } from './read-lines';
import { transition, type SyncEvent, type SyncState } from './states';
import { TokenSource, type TokenFetcher } from './token';

export interface SyncEngineOptions {
  store: LocalStore;
  /** Origin of the app ('' in the browser: same origin). */
  baseUrl: string;
  /** Where sync tokens come from (browser: fetchSyncToken(''); Node: your own). */
  fetchToken: TokenFetcher;
  fetch?: typeof fetch;
  uploadQueue?: UploadQueue;
  backoff?: BackoffOptions;
  /** Renew the stream with a fresh token this long before the token expires. Default 30 s. */
  tokenMarginMs?: number;
  /** No byte for this long means the connection is dead: reconnect. Default 60 s (3 keepalives). */
  idleTimeoutMs?: number;
  log?: ClientLogger;
  storage?: { kind: StorageKind; warning: string | null };
  /** Client tables whose rows changed (a checkpoint was applied). */
  onTablesChanged?(tables: string[]): void;
  onStatus?(status: SyncStatus): void;
}

/** Data lines are stored in one transaction once they hold this many ops… */
const DATA_BATCH_OPS = 50_000;
/** …or when no further line arrived for this long. */
const FLUSH_AFTER_MS = 100;

/** Why the stream was stopped from this side. */
type AbortReason = 'stop' | 'renew' | 'idle';

/** How one connection ended. */
type Ending = { next: 'reconnect'; event: SyncEvent } | { next: 'backoff'; event: SyncEvent };

/**
 * The sync loop (docs/client.md): get a token, open the stream, hand its lines to CheckpointSync,
 * apply checkpoints, and reconnect with jittered backoff when the stream fails or ends. It runs
 * where the database is: a dedicated worker in the browser, the process in Node.
 *
 * @example
 *   const engine = new SyncEngine({ store, baseUrl: 'http://127.0.0.1:3000', fetchToken });
 *   engine.start();
 *   await engine.waitFor((s) => s.hasSynced);
 */
export class SyncEngine {
  private readonly sync: CheckpointSync;
  private readonly tokens: TokenSource;
  private readonly backoff: Backoff;
  private readonly log: ClientLogger;
  private readonly uploadQueue: UploadQueue;
  private readonly fetchImpl: typeof fetch;
  private current: SyncStatus;
  private running: Promise<void> | undefined;
  private controller: AbortController | undefined;
  private abortReason: AbortReason | undefined;
  private stopped = true;
  private wakeBackoff: (() => void) | undefined;
  private serial: Promise<unknown> = Promise.resolve();
  private checksumFailures = 0;
  /** Time spent on the checkpoint being downloaded, for the debug line logged when it is applied. */
  private timing = newTiming();
  /** Data lines parsed and prepared, not yet stored (see flushData). */
  private pendingData: PreparedPage[] = [];
  private pendingOps = 0;
  private flushTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly watchers = new Set<(status: SyncStatus) => void>();
  private unsubscribeQueue: (() => void) | undefined;

  constructor(private readonly options: SyncEngineOptions) {
    this.log = options.log ?? silentLogger;
    this.uploadQueue = options.uploadQueue ?? emptyUploadQueue;
    this.fetchImpl = options.fetch ?? ((input, init) => fetch(input, init));
    this.sync = new CheckpointSync(options.store, this.uploadQueue, this.log);
    this.tokens = new TokenSource(options.fetchToken, options.tokenMarginMs ?? 30_000);
    this.backoff = new Backoff(options.backoff ?? DEFAULT_BACKOFF);
    const applied = options.store.applied();
    this.current = {
      ...initialStatus(options.store.clientId, options.storage?.kind ?? 'memory', options.storage?.warning ?? null),
      pendingUploads: this.uploadQueue.pendingCount ?? 0,
      hasSynced: applied.appliedOpId !== null,
      lastSyncedAt: applied.lastSyncedAt,
      checkpoint: applied.appliedOpId === null ? null : { lastOpId: applied.appliedOpId, writeCheckpoint: applied.writeCheckpoint },
    };
  }

  get status(): SyncStatus {
    return this.current;
  }

  /** The download state, for tests. */
  get checkpoints(): CheckpointSync {
    return this.sync;
  }

  /** Starts syncing (no-op when running). */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.unsubscribeQueue = this.uploadQueue.subscribe(() => void this.onQueueChanged());
    this.fire('start');
    this.running = this.loop().catch((error: unknown) => this.log.error('sync loop crashed', { error: serializeError(error) }));
  }

  /** Stops syncing and closes the stream; resolves when the loop has ended. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.unsubscribeQueue?.();
    this.abort('stop');
    this.wakeBackoff?.();
    await this.running;
    this.fire('stop');
  }

  /** Ends the current stream and connects again at once (e.g. the app came back online). */
  reconnect(): void {
    if (this.stopped) return;
    this.backoff.reset();
    if (this.current.state === 'backoff') this.wakeBackoff?.();
    else this.abort('renew');
  }

  /** Resolves with the first status (now or later) that satisfies `predicate`. */
  waitFor(predicate: (status: SyncStatus) => boolean, timeoutMs = 30_000): Promise<SyncStatus> {
    if (predicate(this.current)) return Promise.resolve(this.current);
    return new Promise((resolve, reject) => {
      const watcher = (status: SyncStatus) => {
        if (!predicate(status)) return;
        clearTimeout(timer);
        this.watchers.delete(watcher);
        resolve(status);
      };
      const timer = setTimeout(() => {
        this.watchers.delete(watcher);
        reject(new Error(`sync status did not reach the expected state within ${timeoutMs} ms (now ${this.current.state})`));
      }, timeoutMs);
      this.watchers.add(watcher);
    });
  }

  // ── status ──────────────────────────────────────────────────────────────────────────────────

  private update(patch: Partial<SyncStatus>): void {
    this.current = { ...this.current, ...patch };
    this.options.onStatus?.(this.current);
    for (const watcher of [...this.watchers]) watcher(this.current);
  }

  private fire(event: SyncEvent, patch: Partial<SyncStatus> = {}): void {
    const from = this.current.state;
    const to = transition(from, event);
    if (to === null) {
      this.log.error('sync state machine: event not expected in this state', { state: from, event });
      this.update(patch);
      return;
    }
    this.update({ ...patch, ...flags(to, this.uploadQueue.uploading) });
  }

  // ── the loop ────────────────────────────────────────────────────────────────────────────────

  private abort(reason: AbortReason): void {
    this.abortReason ??= reason;
    this.controller?.abort();
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      const ending = await this.connectOnce().catch((error: unknown) => this.failure(error));
      if (this.stopped) return;
      this.fire(ending.event, ending.next === 'backoff' ? {} : { downloadProgress: null });
      if (ending.next === 'reconnect') continue;
      const delay = this.backoff.next();
      this.update({ nextRetryAt: Date.now() + delay });
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        this.wakeBackoff = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wakeBackoff = undefined;
      if (this.stopped) return;
      this.fire('retry', { nextRetryAt: null });
    }
  }

  private failure(error: unknown): Ending {
    const reason = this.abortReason;
    if (reason === 'renew') return { next: 'reconnect', event: 'token_expiring' };
    if (reason === 'stop') return { next: 'backoff', event: 'failed' };
    const serialized = serializeError(reason === 'idle' ? new SyncClientError(ClientErrorCode.stream, 'No data or keepalive from the sync stream for too long: reconnecting.') : error);
    const wireCode = (serialized.details as { code?: unknown } | undefined)?.code;
    if (TOKEN_ERROR_CODES.has(serialized.code) || (typeof wireCode === 'string' && TOKEN_ERROR_CODES.has(wireCode))) this.tokens.invalidate();
    this.log.warn('sync stream failed; retrying with backoff', { error: serialized, failures: this.backoff.failures + 1 });
    this.update({ downloadError: serialized });
    return { next: 'backoff', event: 'failed' };
  }

  /** One connection: token, request, lines until the stream ends or must be renewed. */
  private async connectOnce(): Promise<Ending> {
    this.abortReason = undefined;
    const controller = new AbortController();
    this.controller = controller;
    const token = await this.tokens.get();
    this.timing.at.token ??= epochMs();
    if (controller.signal.aborted) throw new Error('aborted');
    let response: Response;
    try {
      response = await this.fetchImpl(`${this.options.baseUrl}${SyncPath.stream}`, {
        method: 'POST',
        headers: { [SyncHeader.authorization]: `Bearer ${token.token}`, [SyncHeader.contentType]: MediaType.json },
        body: JSON.stringify(this.sync.request()),
        signal: controller.signal,
        cache: 'no-store',
      });
    } catch (error: unknown) {
      throw new SyncClientError(ClientErrorCode.stream, `Could not open the sync stream: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
    if (!response.ok || !response.body) throw await refusal(response);
    this.timing.at.response ??= epochMs();
    this.sync.streamStarted();
    this.fire('opened', { nextRetryAt: null });

    let renewTimer = setTimeout(() => this.abort('renew'), this.tokens.renewAfterMs(token));
    const idleMs = this.options.idleTimeoutMs ?? 60_000;
    let idleTimer = setTimeout(() => this.abort('idle'), idleMs);
    try {
      // Time spent waiting for and splitting the bytes, for the debug line of an applied checkpoint.
      let reading = performance.now();
      for await (const lines of readLines(response.body, controller.signal)) {
        this.timing.readMs += performance.now() - reading;
        this.timing.at.firstLine ??= epochMs();
        clearTimeout(idleTimer);
        idleTimer = setTimeout(() => this.abort('idle'), idleMs);
        const ending = await this.serialize(() => this.handleLines(lines, (ms) => {
          clearTimeout(renewTimer);
          renewTimer = setTimeout(() => this.abort('renew'), ms);
        }));
        if (ending) return ending;
        reading = performance.now();
      }
      if (this.abortReason) throw new Error(`stream aborted (${this.abortReason})`);
      this.log.info('the server ended the sync stream; reconnecting');
      return { next: 'backoff', event: 'ended' };
    } finally {
      clearTimeout(renewTimer);
      clearTimeout(idleTimer);
      controller.abort();
      // What arrived before the stream ended is kept: the next stream resumes after it.
      await this.serialize(async () => this.flushData()).catch((error: unknown) => this.log.warn('storing downloaded ops failed', { error: serializeError(error) }));
    }
  }

  /** Runs download work one piece at a time (stream lines and upload-queue retries share the store). */
  private serialize<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.serial.then(fn, fn);
    this.serial = next.catch(() => {});
    return next;
  }

  /**
   * Stores the data lines gathered so far in one transaction. Lines are gathered across reads (up
   * to DATA_BATCH_OPS ops, or until another kind of line arrives, or FLUSH_AFTER_MS without one):
   * on OPFS each commit costs a flush, so a large download in a few transactions is several
   * times faster than one per read.
   */
  private flushData(): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    const pages = this.pendingData;
    if (pages.length === 0) return;
    this.pendingData = [];
    this.pendingOps = 0;
    const start = performance.now();
    this.timing.ops += this.sync.storePages(pages);
    this.timing.storeMs += performance.now() - start;
  }

  private async handleLines(texts: string[], renewIn: (ms: number) => void): Promise<Ending | undefined> {
    const flush = () => this.flushData();
    try {
      for (const text of texts) {
        const parseStart = performance.now();
        const line: SyncLine = parseLine(text);
        if (line.type === 'data') {
          // Prepared now, so the batch holds the page's compact form and not its parsed ops.
          const page = preparePage(line);
          this.timing.parseMs += performance.now() - parseStart;
          this.pendingData.push(page);
          this.pendingOps += page.opCount;
          if (this.pendingOps >= DATA_BATCH_OPS) flush();
          continue;
        }
        this.timing.parseMs += performance.now() - parseStart;
        flush();
        switch (line.type) {
          case 'checkpoint':
            this.sync.checkpoint(line);
            this.fire('checkpoint', { downloadProgress: this.sync.downloadProgress });
            break;
          case 'checkpoint_diff':
            this.sync.diff(line);
            this.fire('checkpoint', { downloadProgress: this.sync.downloadProgress });
            break;
          case 'checkpoint_complete': {
            const start = performance.now();
            const outcome = await this.sync.complete(line);
            const t = this.timing;
            if (outcome.kind === 'applied') this.log.debug('checkpoint applied', { lastOpId: outcome.lastOpId, ops: t.ops, parseMs: Math.round(t.parseMs), storeMs: Math.round(t.storeMs), readMs: Math.round(t.readMs), applyMs: Math.round(performance.now() - start), at: { ...t.at, applied: epochMs() } });
            this.timing = newTiming();
            const ending = this.completed(outcome);
            if (ending) return ending;
            break;
          }
          case 'partial_checkpoint_complete':
          case 'keepalive':
            break;
          case 'token_expires_in':
            if (line.seconds === 0) {
              this.tokens.invalidate();
              return { next: 'reconnect', event: 'token_expiring' };
            }
            renewIn(renewDelay(line.seconds * 1000, this.options.tokenMarginMs ?? 30_000));
            break;
          case 'error':
            if (line.error.code === SyncErrorCode.rulesChanged) {
              this.log.info('sync rules changed on the server; reconnecting', { message: line.error.message });
              return { next: 'reconnect', event: 'rules_changed' };
            }
            throw new SyncClientError(ClientErrorCode.stream, `The sync stream failed: ${line.error.code}: ${line.error.message}`, { details: { code: line.error.code } });
        }
      }
      if (this.pendingData.length > 0 && this.flushTimer === undefined) {
        this.flushTimer = setTimeout(() => void this.serialize(async () => this.flushData()).catch((error: unknown) => this.log.warn('storing downloaded ops failed', { error: serializeError(error) })), FLUSH_AFTER_MS);
      }
    } finally {
      if (this.current.downloading) this.update({ downloadProgress: this.sync.downloadProgress ? { ...this.sync.downloadProgress } : null });
    }
    return undefined;
  }

  private completed(outcome: CompleteOutcome): Ending | undefined {
    switch (outcome.kind) {
      case 'applied':
        this.afterApply(outcome);
        return undefined;
      case 'held':
        this.fire('held_back');
        return undefined;
      case 'checksum_failed':
        this.checksumFailures++;
        // A second failure in a row waits before retrying: the server may be serving bad data.
        return this.checksumFailures > 1 ? { next: 'backoff', event: 'failed' } : { next: 'reconnect', event: 'checksum_failed' };
    }
  }

  private afterApply(outcome: Extract<CompleteOutcome, { kind: 'applied' }>): void {
    this.checksumFailures = 0;
    this.backoff.reset();
    this.fire('applied', {
      hasSynced: true,
      lastSyncedAt: outcome.at,
      checkpoint: { lastOpId: outcome.lastOpId, writeCheckpoint: outcome.writeCheckpoint },
      downloadProgress: null,
      downloadError: null,
    });
    if (outcome.tables.length > 0) this.options.onTablesChanged?.(outcome.tables);
  }

  private async onQueueChanged(): Promise<void> {
    this.update(queueFields(this.uploadQueue));
    const outcome = await this.serialize(() => this.sync.retryHeld());
    if (outcome?.kind === 'applied') this.afterApply(outcome);
  }
}

/** What the debug line of an applied checkpoint reports: where the download's time went. */
function newTiming() {
  return { parseMs: 0, storeMs: 0, readMs: 0, ops: 0, at: {} as { token?: number; response?: number; firstLine?: number } };
}

function queueFields(queue: UploadQueue): Pick<SyncStatus, 'uploading' | 'pendingUploads' | 'uploadError'> {
  return { uploading: queue.uploading, pendingUploads: queue.pendingCount ?? 0, uploadError: queue.lastError ?? null };
}

function flags(state: SyncState, uploading: boolean): Pick<SyncStatus, 'state' | 'connected' | 'connecting' | 'downloading' | 'uploading'> {
  return {
    state,
    connected: state === 'downloading' || state === 'held' || state === 'synced',
    connecting: state === 'connecting' || state === 'backoff',
    downloading: state === 'downloading',
    uploading,
  };
}

/** When to renew, given the time a token has left: the margin before expiry, or half a short token's life. */
function renewDelay(leftMs: number, marginMs: number): number {
  return Math.max(0, leftMs > 2 * marginMs ? leftMs - marginMs : leftMs / 2);
}

/** The error for a refused stream request, from the server's `{ error: { code, message } }` body. */
async function refusal(response: Response): Promise<SyncClientError> {
  const body: unknown = await response.json().catch(() => null);
  const parsed = errorBodySchema.safeParse(body);
  const code = parsed.success ? parsed.data.error.code : undefined;
  const message = parsed.success ? parsed.data.error.message : `HTTP ${response.status}`;
  return new SyncClientError(ClientErrorCode.stream, `The sync stream was refused (${code ?? response.status}): ${message}`, { details: { status: response.status, ...(code ? { code } : {}) } });
}
