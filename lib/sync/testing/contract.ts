/**
 * What a page running Lockstep exposes for tests: `<SyncProvider>` sets
 * `window[TESTING_GLOBAL]` so that waitForSync can ask the page, without knowing its internals,
 * how far it is. No imports here: the browser bundle includes this file.
 */
export const TESTING_GLOBAL = '__lockstep';

export interface TestingHandle {
  /** The op id of the last checkpoint applied to the local database, or null before the first. */
  checkpoint(): string | null;
  /** The write checkpoint id the last applied checkpoint carried, or null. */
  writeCheckpoint(): string | null;
  /** This database's client_id, or null before the client reported its status. */
  clientId(): string | null;
  /** Rows of a read-only query on the local database. */
  query(sql: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  /** Runs a writing statement as one local transaction, as the app's own writes do. */
  execute(sql: string, params?: unknown[]): Promise<{ changes: number }>;
  /** Local transactions not yet confirmed by the server. */
  pendingUploads(): number;
}
