'use client';

/** React bindings of the sync client: <SyncProvider>, useLiveQuery, useSyncStatus. */
export { SyncProvider, type SyncProviderProps } from './provider';
export { useLiveQuery, type DrizzleQuery, type LiveQueryResult } from './use-live-query';
export { useSyncStatus } from './use-sync-status';
export { useRejectedWrites, type RejectedWritesResult } from './use-rejected-writes';
export { useSyncClient, useSyncDatabase } from './context';
export { syncDatabase, type SyncDatabase } from './drizzle';
