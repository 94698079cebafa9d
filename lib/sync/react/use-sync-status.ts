'use client';

import { useSyncExternalStore } from 'react';
import type { SyncStatus } from '@/lib/sync/client/status';
import { useSyncContext } from './context';

/**
 * The sync status (connected, connecting, uploading, downloading, lastSyncedAt, hasSynced,
 * downloadProgress, errors); re-renders when it changes. Null until the worker reported it.
 *
 * @example
 *   const status = useSyncStatus();
 *   if (status?.downloadProgress) return <progress value={status.downloadProgress.downloadedOps} max={status.downloadProgress.totalOps} />;
 */
export function useSyncStatus(): SyncStatus | null {
  const { client } = useSyncContext();
  return useSyncExternalStore(
    (onChange) => client.onStatus(onChange),
    () => client.status,
    () => null,
  );
}
