import type { SqlParams, SqlRow, SqlValue } from './db/database';
import type { ExecuteResult, SqlStatement, SyncCore } from './core';
import type { RejectedWrite } from './writes/queue-store';
import type { SyncStatus } from './status';

/**
 * What apps and the React hooks use: an asynchronous view of the local database and its sync
 * status. In the browser it reaches the leader tab's worker (lib/sync/client/browser); in Node
 * it wraps a SyncCore in the same process (LocalSyncClient).
 */
export interface SyncClient {
  /** Rows of a read-only query, as objects keyed by column name. */
  query<T extends SqlRow = SqlRow>(sql: string, params?: SqlParams): Promise<T[]>;
  /** Rows as arrays in column order (drizzle's sqlite-proxy driver). */
  queryValues(sql: string, params?: SqlParams): Promise<SqlValue[][]>;
  /** A writing statement as one local transaction (applied at once, queued for upload); listeners of the tables it writes are told. */
  execute(sql: string, params?: SqlParams): Promise<ExecuteResult>;
  /** Statements in ONE local transaction: all or nothing, one upload-queue entry. */
  executeBatch(statements: readonly SqlStatement[]): Promise<ExecuteResult>;
  /** Local transactions the server rejected, newest first (docs/writes.md#rejections). */
  rejectedWrites(): Promise<RejectedWrite[]>;
  /** Forgets rejected transactions (all, or those ids) once the app has shown them. */
  dismissRejected(ids?: readonly string[]): Promise<number>;
  /** The client tables a query reads (what a live query listens to). */
  tablesReadBy(sql: string): Promise<string[]>;
  /** Called with the client tables whose rows changed, in any tab. Returns an unsubscribe function. */
  onTablesChanged(listener: (tables: string[]) => void): () => void;
  /** Called with every new status. Returns an unsubscribe function. */
  onStatus(listener: (status: SyncStatus) => void): () => void;
  /** The latest status known here (null until the first one arrived). */
  readonly status: SyncStatus | null;
  close(): Promise<void>;
}

/** SyncClient over a SyncCore in the same thread (Node, or inside the worker). */
export class LocalSyncClient implements SyncClient {
  constructor(readonly core: SyncCore) {}

  get status(): SyncStatus {
    return this.core.status;
  }

  async query<T extends SqlRow = SqlRow>(sql: string, params?: SqlParams): Promise<T[]> {
    return this.core.query<T>(sql, params);
  }

  async queryValues(sql: string, params?: SqlParams): Promise<SqlValue[][]> {
    return this.core.queryValues(sql, params);
  }

  async execute(sql: string, params?: SqlParams): Promise<ExecuteResult> {
    return this.core.execute(sql, params);
  }

  async executeBatch(statements: readonly SqlStatement[]): Promise<ExecuteResult> {
    return this.core.executeBatch(statements);
  }

  async rejectedWrites(): Promise<RejectedWrite[]> {
    return this.core.rejectedWrites();
  }

  async dismissRejected(ids?: readonly string[]): Promise<number> {
    return this.core.dismissRejected(ids);
  }

  async tablesReadBy(sql: string): Promise<string[]> {
    return this.core.tablesReadBy(sql);
  }

  onTablesChanged(listener: (tables: string[]) => void): () => void {
    return this.core.onTablesChanged(listener);
  }

  onStatus(listener: (status: SyncStatus) => void): () => void {
    return this.core.onStatus(listener);
  }

  close(): Promise<void> {
    return this.core.close();
  }
}
