import type { ClientSchema } from '@/lib/sync/config';
import type { SqlDatabase, SqlParams, SqlRow, SqlValue } from './db/database';
import { silentLogger, type ClientLogger } from './log';
import type { StorageKind, SyncStatus } from './status';
import { tableOfStore } from './storage/layout';
import { LocalStore } from './storage/local-store';
import type { BackoffOptions } from './sync/backoff';
import { SyncEngine } from './sync/engine';
import type { TokenFetcher } from './sync/token';
import type { UploadQueue } from './upload-queue';

export interface SyncCoreOptions {
  db: SqlDatabase;
  schema: ClientSchema;
  /** Origin of the app; '' in the browser. */
  baseUrl: string;
  fetchToken: TokenFetcher;
  fetch?: typeof fetch;
  uploadQueue?: UploadQueue;
  backoff?: BackoffOptions;
  tokenMarginMs?: number;
  idleTimeoutMs?: number;
  log?: ClientLogger;
  storage?: { kind: StorageKind; warning: string | null };
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
  private readonly tableListeners = new Set<(tables: string[]) => void>();
  private readonly statusListeners = new Set<(status: SyncStatus) => void>();

  private constructor(private readonly options: SyncCoreOptions) {
    const log = options.log ?? silentLogger;
    this.store = LocalStore.open(options.db, options.schema, log);
    this.engine = new SyncEngine({
      store: this.store,
      baseUrl: options.baseUrl,
      fetchToken: options.fetchToken,
      ...(options.fetch ? { fetch: options.fetch } : {}),
      ...(options.uploadQueue ? { uploadQueue: options.uploadQueue } : {}),
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

  start(): void {
    this.engine.start();
  }

  stop(): Promise<void> {
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

  /** Runs a writing statement and tells listeners of the tables it wrote. */
  execute(sql: string, params?: SqlParams): ExecuteResult {
    const tables = this.tablesWrittenBy(sql);
    const changes = this.options.db.run(sql, params);
    if (tables.length > 0) this.tablesChanged(tables);
    return { changes, tables };
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
    await this.engine.stop();
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
