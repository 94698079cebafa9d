import { UploadLimits, UploadRejectionCode, type UploadErrorBody, type UploadRequest, type UploadResult, type UploadTransactionResult } from '@/lib/sync/protocol';
import { inTransaction, type SqlDatabase } from '../db/database';
import { serializeError, type SerializedError } from '../errors';
import { silentLogger, type ClientLogger } from '../log';
import { Backoff, DEFAULT_BACKOFF, type BackoffOptions } from '../sync/backoff';
import type { UploadQueue } from '../upload-queue';
import { coveredBy, dropCovered, markAcked, queueCounts, rejectEntry, type QueueEntry, type RejectedWrite } from './queue-store';
import { countAttempts, DEFAULT_UPLOAD_BATCH, pendingBatch, utf8Length, type UploadBatchLimits } from './upload-batch';

/** Sends a batch of queued transactions to the app's upload endpoint (in the app: the uploadTransaction server action). */
export type UploadFunction = (request: UploadRequest) => Promise<UploadResult>;

export interface UploadLoopOptions {
  db: SqlDatabase;
  clientId: string;
  /** Where transactions go. Without it, writes stay queued (e.g. a client that only reads). */
  upload?: UploadFunction;
  backoff?: BackoffOptions;
  /** How many queued transactions go per call (default DEFAULT_UPLOAD_BATCH). */
  batch?: Partial<UploadBatchLimits>;
  log?: ClientLogger;
  /** A transaction the server refused (it is in ls_rejected too). */
  onRejected?(rejected: RejectedWrite): void;
  /** Client tables whose rows changed (a rejected transaction was undone). */
  onTablesChanged?(tables: string[]): void;
  now?: () => number;
}

/**
 * The upload queue's loop (docs/writes.md#the-client-half): uploads queued transactions in
 * batches, oldest first, one call at a time, and tells the download side when a held checkpoint
 * may be applied. It runs where the database is: the leader tab's worker, or a Node process.
 * Each transaction of a batch gets its own answer, handled in queue order:
 *
 * - `applied`: the entry stays (state `acked`) until a checkpoint whose write_checkpoint covers it
 *   is applied; then it leaves the queue and the local rows are the server's.
 * - `rejected`: the entry moves to ls_rejected, its rows are undone, onRejected is called; the
 *   next entries go on.
 * - `retry` (the server stopped there), or the call throwing (offline, 5xx): the entries from
 *   there on stay pending and go again, in order, after a jittered backoff.
 *
 * A request refused whole (malformed, past the server's limits, not signed in) is sent again as
 * half as many transactions, down to one; a lone transaction refused whole is rejected. A lone
 * transaction larger than the server takes (UploadLimits.maxBatchBytes) is rejected here with the
 * server's code, without sending it: a body that large would be refused before the upload
 * function runs (by Next.js's action body limit) and retried forever.
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
  private readonly limits: UploadBatchLimits;
  /** Transactions per call now: halved when a request is refused whole, doubled back after a success. */
  private batchSize: number;

  constructor(private readonly options: UploadLoopOptions) {
    this.backoff = new Backoff(options.backoff ?? DEFAULT_BACKOFF);
    this.log = options.log ?? silentLogger;
    this.limits = { ...DEFAULT_UPLOAD_BATCH, ...options.batch };
    this.batchSize = Math.max(1, this.limits.maxTransactions);
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
    // One transaction: on its own each DELETE is a commit, and in the browser (OPFS, WAL) 1,000
    // confirmed entries took ~20 s of commits before the queue, and the status, showed them gone.
    const { db } = this.options;
    const dropped = inTransaction(db, () => dropCovered(db, writeCheckpoint));
    if (dropped > 0) this.changed();
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
      // poke() can come from inside the caller's transaction (a write made within one): start
      // once it has ended, since settling a batch opens a transaction of its own.
      await Promise.resolve();
      while (!this.stopped) {
        const batch = pendingBatch(this.options.db, { ...this.limits, maxTransactions: this.batchSize });
        if (batch.length === 0) return;
        const delay = await this.uploadBatch(batch);
        if (delay > 0) await this.sleep(delay);
      }
    } catch (error: unknown) {
      // A local database error: nothing was settled, the entries stay pending for the next poke.
      this.error = serializeError(error);
      this.log.error('the upload queue stopped on an error; it resumes on the next write or reconnect', { error: this.error });
      this.changed();
    } finally {
      this.running = false;
    }
  }

  /** Uploads one batch; returns how long to wait before the next attempt (0: go on). */
  private async uploadBatch(batch: QueueEntry[]): Promise<number> {
    const { db } = this.options;
    const request: UploadRequest = { client_id: this.options.clientId, transactions: batch.map((e) => e.transaction) };
    if (batch.length === 1) {
      const bytes = utf8Length(JSON.stringify(request));
      if (bytes > UploadLimits.maxBatchBytes) {
        const error: UploadErrorBody = {
          code: UploadRejectionCode.batchTooLarge,
          message: `The transaction is ${bytes} bytes of JSON; the server takes at most ${UploadLimits.maxBatchBytes} at once, so it was not sent.`,
          details: { bytes, maxBytes: UploadLimits.maxBatchBytes },
        };
        this.log.warn('a local transaction is too large to upload; it is rejected', { transaction: batch[0]!.transaction.id, bytes });
        return this.settleBatch(batch, [{ status: 'rejected', error }]);
      }
    }
    this.inFlight = true;
    this.changed();
    let answer: UploadResult;
    try {
      countAttempts(db, batch.map((e) => e.transaction.id));
      answer = await this.options.upload!(request);
    } catch (error: unknown) {
      const serialized = serializeError(error);
      answer = { status: 'retry', error: { code: serialized.code, message: serialized.message } };
    } finally {
      this.inFlight = false;
    }
    let results: UploadTransactionResult[];
    switch (answer.status) {
      case 'results':
        results = answer.results;
        break;
      case 'applied':
        results = [answer];
        break;
      case 'rejected':
        if (batch.length > 1) {
          // Refused whole, nothing written: find out which transaction it is by sending fewer.
          this.batchSize = Math.max(1, Math.floor(batch.length / 2));
          this.log.warn('the server refused an upload batch whole; sending fewer transactions at once', { transactions: batch.length, error: answer.error });
          return 0;
        }
        results = [answer];
        break;
      case 'retry':
        results = [answer];
        break;
    }
    return this.settleBatch(batch, results);
  }

  /** Applies the answers to the queue, in order, up to the first `retry`; returns the delay before the next call. */
  private settleBatch(batch: QueueEntry[], results: UploadTransactionResult[]): number {
    const { db } = this.options;
    const now = (this.options.now ?? Date.now)();
    const rejected: RejectedWrite[] = [];
    const tables = new Set<string>();
    let retry: UploadErrorBody | undefined;
    let acked = 0;
    db.transaction(() => {
      for (const [i, entry] of batch.entries()) {
        const result = results[i];
        if (!result) break;
        if (result.status === 'retry') {
          retry = result.error;
          break;
        }
        if (result.status === 'applied') {
          markAcked(db, entry.transaction.id, result.write_checkpoint);
          acked++;
        } else {
          for (const table of rejectEntry(db, entry, result.error, now)) tables.add(table);
          rejected.push({ transactionId: entry.transaction.id, ops: entry.transaction.ops, error: result.error, rejectedAt: now });
        }
      }
    });
    // An answer without a result for the first transaction (a server that stopped before it) is a
    // retry too: the queue never moves on without an answer for each entry.
    if (!retry && acked + rejected.length === 0) retry = { code: 'UPLOAD_NO_RESULT', message: 'The server answered the upload without a result for its first transaction.' };
    for (const r of rejected) this.log.warn('the server rejected a local transaction; it was undone', { transaction: r.transactionId, error: r.error });
    let delay = 0;
    if (retry) {
      delay = this.backoff.next();
      this.log.info('upload failed; retrying with backoff', { transactions: batch.length - acked - rejected.length, error: retry, delayMs: delay });
      this.error = asSerialized(retry);
    } else {
      this.backoff.reset();
      this.batchSize = Math.min(this.limits.maxTransactions, this.batchSize * 2);
      const last = rejected.at(-1);
      this.error = last ? asSerialized(last.error) : null;
    }
    if (tables.size > 0) this.options.onTablesChanged?.([...tables]);
    this.changed();
    for (const r of rejected) this.options.onRejected?.(r);
    return delay;
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
