'use client';

import { useSyncExternalStore } from 'react';
import { useSyncStatus } from '@/lib/sync/react';
import { usePendingUploads } from '../data';
import styles from '../demo.module.css';

function subscribeOnline(onChange: () => void): () => void {
  window.addEventListener('online', onChange);
  window.addEventListener('offline', onChange);
  return () => {
    window.removeEventListener('online', onChange);
    window.removeEventListener('offline', onChange);
  };
}

/** The browser's idea of the network; true on the server. */
function useOnline(): boolean {
  return useSyncExternalStore(subscribeOnline, () => navigator.onLine, () => true);
}

/** Online or offline, syncing, pending uploads and the last sync: what the user needs to trust the app. */
export function StatusBar() {
  const status = useSyncStatus();
  const online = useOnline();
  const pending = usePendingUploads();
  const syncing = !!status && (status.downloading || status.uploading || (status.connecting && online));
  const connection = !online ? 'Offline' : status?.connected ? 'Online' : 'Connecting';
  const lastSynced = status?.lastSyncedAt ? new Date(status.lastSyncedAt).toLocaleTimeString() : 'never';

  return (
    <section aria-label="Sync status" className={styles.statusBar}>
      <span data-testid="status-connection" className={online && status?.connected ? styles.ok : styles.warn}>
        {connection}
      </span>
      <span data-testid="status-activity">{syncing ? 'Syncing…' : status?.hasSynced ? 'Up to date' : 'Not synced yet'}</span>
      <span data-testid="status-pending">{pending === null ? 'Pending uploads: –' : `Pending uploads: ${pending}`}</span>
      <span data-testid="status-last-synced">Last synced: {lastSynced}</span>
      {status?.storage === 'memory' ? <span className={styles.warn}>Not saved on this device: {status.storageWarning ?? 'in memory'}</span> : null}
    </section>
  );
}
