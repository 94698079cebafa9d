/**
 * The sync client (docs/client.md): a local SQLite database kept in sync with Postgres.
 *
 * - In the browser, use lib/sync/react (<SyncProvider>, useLiveQuery, useSyncStatus), or
 *   BrowserSyncClient directly: one tab leads (database worker with OPFS, the sync connection),
 *   the others query through it.
 * - In Node (tests, scripts, benchmarks): createNodeSyncClient from lib/sync/client/node.
 */
export type { SyncClient } from './client';
export { LocalSyncClient } from './client';
export { SyncCore, type SyncCoreOptions, type ExecuteResult } from './core';
export type { SqlDatabase, SqlParams, SqlRow, SqlValue, StatementAccess } from './db/database';
export { ClientErrorCode, SyncClientError, type SerializedError } from './errors';
export { consoleLogger, silentLogger, type ClientLogger, type LogLevel } from './log';
export type { StorageKind, SyncStatus } from './status';
export type { DownloadProgress } from './sync/checkpoint-sync';
export { SYNC_EVENTS, SYNC_STATES, TRANSITIONS, type SyncEvent, type SyncState } from './sync/states';
export { fetchSyncToken, type SyncToken, type TokenFetcher } from './sync/token';
export { BrowserSyncClient, type BrowserSyncClientOptions } from './tabs/tab-client';
export { emptyUploadQueue, type UploadQueue } from './upload-queue';
