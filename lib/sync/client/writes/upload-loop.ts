import type { UploadErrorBody, UploadRequest, UploadResult } from '@/lib/sync/protocol';
import type { SqlDatabase } from '../db/database';
import { serializeError, type SerializedError } from '../errors';
import { silentLogger, type ClientLogger } from '../log';
import { Backoff, DEFAULT_BACKOFF, type BackoffOptions } from '../sync/backoff';
import type { UploadQueue } from '../upload-queue';
import { countAttempt, coveredBy, dropCovered, markAcked, nextPending, queueCounts, rejectEntry, type QueueEntry, type RejectedWrite } from './queue-store';

/** Sends one queued transaction to the app's upload endpoint (in the app: the uploadTransaction server action). */
export type UploadFunction = (request: UploadRequest) => Promise<UploadResult>;

export interface UploadLoopOptions {
  db: SqlDatabase;
  clientId: string;
  /** Where transactions go. Without it, writes stay queued (e.g. a client that only reads). */
  upload?: UploadFunction;
  backoff?: BackoffOptions;
  log?: ClientLogger;
  /** A transaction the server refused (it is in ls_rejected too). */
  onRejected?(rejected: RejectedWrite): void;
  /** Client tables whose rows changed (a rejected transaction was undone). */
  onTablesChanged?(tables: string[]): void;
  now?: () => number;
}

/**
 * The upload queue's loop (docs/writes.md#the-client-half): uploads queued transactions one at a
 * time, oldest first, and tells the download side when a held checkpoint may be applied. It runs
 * where the database is: the leader tab's worker, or a Node process.
 *
 * - `applied`: the entry stays (state `acked`) until a checkpoint whose write_checkpoint covers it
 *   is applied; then it leaves the queue and the local rows are the server's.
 * - `retry`, or the call throwing (offline, 5xx): the same entry again after a jittered backoff.
 * - `rejected`: the entry moves to ls_rejected, its rows are undone, onRejected is called.
 */
export class UploadLoop implements UploadQueue {
  private readonly listeners = new Set<() => void>();
  private readonly backoff: Backoff;
  private readonly log: ClientLogger;
  private running = false;
  private stopped = true;
  private wake: (() => void) | undefined;
  private inFlight = false;
  private error: SerializedError | null = null;

  constructor(private readonly options: UploadLoopOptions) {
    this.backoff = new Backoff(options.backoff ?? DEFAULT_BACKOFF);
    this.log = options.log ?? silentLogger;
  }

  get uploading(): boolean {
    return this.inFlight;
  }

  /** Local transactions not yet confirmed by a checkpoint (queued, uploading, or acknowledged). */
  get pendingCount(): number {
    return queueCounts(this.options.db).total;
  }

  get lastError(): SerializedError | null {
    return this.error;
  }

  canApply(writeCheckpoint: string | null): boolean {
    return coveredBy(this.options.db, writeCheckpoint);
  }

  checkpointApplied(writeCheckpoint: string | null): void {
    if (dropCovered(this.options.db, writeCheckpoint) > 0) this.changed();
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Starts uploading (no-op when running or without an upload function). */
  start(): void {
    if (!this.stopped || !this.options.upload) return;
    this.stopped = false;
    void this.run();
  }

  stop(): void {
    this.stopped = true;
    this.wake?.();
  }

  /** A local transaction was queued, or the network came back: upload now (skipping a backoff wait). */
  poke(): void {
    this.backoff.reset();
    this.wake?.();
    if (!this.running && !this.stopped) void this.run();
    this.changed();
  }

  private changed(): void {
    for (const listener of [...this.listeners]) listener();
  }

  private async run(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (!this.stopped) {
        const entry = nextPending(this.options.db);
        if (!entry) return;
        const delay = await this.uploadOne(entry);
        if (delay > 0) await this.sleep(delay);
      }
    } finally {
      this.running = false;
    }
  }

  /** Uploads one entry; returns how long to wait before the next attempt (0: go on). */
  private async uploadOne(entry: QueueEntry): Promise<number> {
    const { db } = this.options;
    const request: UploadRequest = { client_id: this.options.clientId, transaction: entry.transaction };
    this.inFlight = true;
    this.changed();
    let result: UploadResult;
    try {
      countAttempt(db, entry.transaction.id);
      result = await this.options.upload!(request);
    } catch (error: unknown) {
      const serialized = serializeError(error);
      result = { status: 'retry', error: { code: serialized.code, message: serialized.message } };
    } finally {
      this.inFlight = false;
    }
    switch (result.status) {
      case 'applied':
        markAcked(db, entry.transaction.id, result.write_checkpoint);
        this.backoff.reset();
        this.error = null;
        this.changed();
        return 0;
      case 'rejected': {
        const now = (this.options.now ?? Date.now)();
        const tables = db.transaction(() => rejectEntry(db, entry, result.error, now));
        this.log.warn('the server rejected a local transaction; it was undone', { transaction: entry.transaction.id, error: result.error });
        this.backoff.reset();
        this.error = asSerialized(result.error);
        if (tables.length > 0) this.options.onTablesChanged?.(tables);
        this.changed();
        this.options.onRejected?.({ transactionId: entry.transaction.id, ops: entry.transaction.ops, error: result.error, rejectedAt: now });
        return 0;
      }
      case 'retry': {
        const delay = this.backoff.next();
        this.log.info('upload failed; retrying with backoff', { transaction: entry.transaction.id, error: result.error, delayMs: delay });
        this.error = asSerialized(result.error);
        this.changed();
        return delay;
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    }).then(() => {
      this.wake = undefined;
    });
  }
}

function asSerialized(error: UploadErrorBody): SerializedError {
  return { name: 'UploadError', code: error.code, message: error.message, ...(error.details ? { details: error.details } : {}) };
}
