import type { ClientSchema } from '@/lib/sync/config';
import { inTransaction, type SqlDatabase, type SqlParams, type SqlRow, type SqlValue } from './db/database';
import { silentLogger, type ClientLogger } from './log';
import type { StorageKind, SyncStatus } from './status';
import { tableOfStore } from './storage/layout';
import { LocalStore } from './storage/local-store';
import type { BackoffOptions } from './sync/backoff';
import { SyncEngine } from './sync/engine';
import type { TokenFetcher } from './sync/token';
import type { UploadQueue } from './upload-queue';
import { beginLocalTransaction, dismissRejected, endLocalTransaction, queueEntries, rejectedWrites, type QueueEntry, type RejectedWrite } from './writes/queue-store';
import { installWriteTriggers } from './writes/triggers';
import { UploadLoop, type UploadFunction } from './writes/upload-loop';
import { randomUuid } from './writes/uuid';

export interface SyncCoreOptions {
  db: SqlDatabase;
  schema: ClientSchema;
  /** Origin of the app; '' in the browser. */
  baseUrl: string;
  fetchToken: TokenFetcher;
  fetch?: typeof fetch;
  /**
   * Where local transactions are uploaded (docs/writes.md): in the app, the uploadTransaction
   * server action. Without it, local writes stay queued until a client with one opens the database.
   */
  upload?: UploadFunction;
  /** Called when the server rejected a local transaction (it was undone and kept in ls_rejected). */
  onUploadRejected?(rejected: RejectedWrite): void;
  /** Replaces the built-in upload queue (tests of the download side). */
  uploadQueue?: UploadQueue;
  backoff?: BackoffOptions;
  tokenMarginMs?: number;
  idleTimeoutMs?: number;
  log?: ClientLogger;
  storage?: { kind: StorageKind; warning: string | null };
}

/** One statement of a local transaction. */
export interface SqlStatement {
  sql: string;
  params?: SqlParams;
}

/** The result of execute(). */
export interface ExecuteResult {
  changes: number;
  /** Client tables the statement wrote (listeners of these tables were told). */
  tables: string[];
}

/**
 * One local database and its sync engine, in the thread that owns the database (the worker, or
 * a Node process). Everything the app does goes through here: queries, writes, change
 * notifications and status. The browser's tabs reach it through the worker's messages.
 *
 * @example
 *   const core = SyncCore.open({ db: await openNodeDatabase(), schema: clientSchema, baseUrl, fetchToken });
 *   core.start();
 *   core.query('SELECT * FROM todos WHERE list_id = ?', [listId]);
 */
export class SyncCore {
  readonly store: LocalStore;
  readonly engine: SyncEngine;
  /** The upload queue and its loop (docs/writes.md#the-client-half). */
  readonly uploads: UploadLoop;
  private readonly tableListeners = new Set<(tables: string[]) => void>();
  private readonly statusListeners = new Set<(status: SyncStatus) => void>();

  private constructor(private readonly options: SyncCoreOptions) {
    const log = options.log ?? silentLogger;
    this.store = LocalStore.open(options.db, options.schema, log);
    installWriteTriggers(options.db, options.schema);
    this.uploads = new UploadLoop({
      db: options.db,
      clientId: this.store.clientId,
      ...(options.upload ? { upload: options.upload } : {}),
      ...(options.backoff ? { backoff: options.backoff } : {}),
      log,
      onTablesChanged: (tables) => this.tablesChanged(tables),
      ...(options.onUploadRejected ? { onRejected: options.onUploadRejected } : {}),
    });
    this.engine = new SyncEngine({
      store: this.store,
      baseUrl: options.baseUrl,
      fetchToken: options.fetchToken,
      ...(options.fetch ? { fetch: options.fetch } : {}),
      uploadQueue: options.uploadQueue ?? this.uploads,
      ...(options.backoff ? { backoff: options.backoff } : {}),
      ...(options.tokenMarginMs !== undefined ? { tokenMarginMs: options.tokenMarginMs } : {}),
      ...(options.idleTimeoutMs !== undefined ? { idleTimeoutMs: options.idleTimeoutMs } : {}),
      ...(options.storage ? { storage: options.storage } : {}),
      log,
      onTablesChanged: (tables) => this.tablesChanged(tables),
      onStatus: (status) => {
        for (const listener of [...this.statusListeners]) listener(status);
      },
    });
  }

  static open(options: SyncCoreOptions): SyncCore {
    return new SyncCore(options);
  }

  get db(): SqlDatabase {
    return this.options.db;
  }

  get status(): SyncStatus {
    return this.engine.status;
  }

  /** Starts syncing, and uploading when an upload function was given. */
  start(): void {
    this.engine.start();
    this.uploads.start();
  }

  /** Stops syncing and uploading (the queue stays in the database). */
  stop(): Promise<void> {
    this.uploads.stop();
    return this.engine.stop();
  }

  /** Rows of a read-only query, as objects. */
  query<T extends SqlRow = SqlRow>(sql: string, params?: SqlParams): T[] {
    return this.options.db.all<T>(sql, params);
  }

  /** Rows of a query as arrays in column order (drizzle's sqlite-proxy driver wants these). */
  queryValues(sql: string, params?: SqlParams): SqlValue[][] {
    return this.options.db.values(sql, params);
  }

  /**
   * Runs a writing statement as one local transaction: writes to client tables change the local
   * rows at once, enter the upload queue as one entry, and listeners of the tables are told.
   */
  execute(sql: string, params?: SqlParams): ExecuteResult {
    return this.executeBatch([{ sql, params }]);
  }

  /**
   * Runs statements in ONE local transaction (all or nothing): one upload-queue entry, uploaded
   * and applied on the server as one Postgres transaction.
   *
   * @example
   *   core.executeBatch([
   *     { sql: 'INSERT INTO todos (id, list_id, description, completed, created_at) VALUES (?, ?, ?, 0, ?)', params: [id, listId, 'Tea', now] },
   *     { sql: 'UPDATE lists SET name = ? WHERE id = ?', params: ['Shopping', listId] },
   *   ]);
   */
  executeBatch(statements: readonly SqlStatement[]): ExecuteResult {
    const { db } = this.options;
    const txId = randomUuid();
    const tables = new Set<string>();
    let queued = false;
    const run = () => {
      beginLocalTransaction(db, txId);
      let changes = 0;
      for (const s of statements) {
        for (const t of this.tablesWrittenBy(s.sql)) tables.add(t);
        changes += db.run(s.sql, s.params);
      }
      queued = endLocalTransaction(db, txId, Date.now());
      return changes;
    };
    const changes = inTransaction(db, run);
    if (tables.size > 0) this.tablesChanged([...tables]);
    if (queued) this.uploads.poke();
    return { changes, tables: [...tables] };
  }

  /** Transactions the server rejected, newest first (until dismissed). */
  rejectedWrites(): RejectedWrite[] {
    return rejectedWrites(this.options.db);
  }

  /** Forgets rejected transactions (all, or those ids) once the app has shown them. */
  dismissRejected(ids?: readonly string[]): number {
    const n = dismissRejected(this.options.db, ids);
    if (n > 0) this.uploads.poke();
    return n;
  }

  /** The upload queue's entries, oldest first (for tests and debugging). */
  uploadQueue(): QueueEntry[] {
    return queueEntries(this.options.db);
  }

  /** The client tables (views, or the tables behind them) a query reads. */
  tablesReadBy(sql: string): string[] {
    return normalizeTables(this.options.db.access(sql).reads);
  }

  tablesWrittenBy(sql: string): string[] {
    return normalizeTables(this.options.db.access(sql).writes);
  }

  /** Called with the client tables whose rows changed. Returns an unsubscribe function. */
  onTablesChanged(listener: (tables: string[]) => void): () => void {
    this.tableListeners.add(listener);
    return () => this.tableListeners.delete(listener);
  }

  onStatus(listener: (status: SyncStatus) => void): () => void {
    this.statusListeners.add(listener);
    return () => this.statusListeners.delete(listener);
  }

  /** Stops syncing and closes the database. */
  async close(): Promise<void> {
    await this.stop();
    this.options.db.close();
  }

  private tablesChanged(tables: string[]): void {
    for (const listener of [...this.tableListeners]) listener(tables);
  }
}

/** Store tables stand for their client table; the client's own bookkeeping tables are left out. */
export function normalizeTables(names: readonly string[]): string[] {
  const out = new Set<string>();
  for (const name of names) {
    const table = tableOfStore(name);
    if (table !== undefined) out.add(table);
    else if (!name.startsWith('ls_')) out.add(name);
  }
  return [...out];
}
