import type { SerializedError } from './errors';
import type { DownloadProgress } from './sync/checkpoint-sync';
import type { SyncState } from './sync/states';

/** Where the local database lives. */
export type StorageKind = 'opfs-sahpool' | 'memory';

/**
 * The sync client's status, as useSyncStatus() returns it. Plain data: it is posted from the
 * worker to every tab.
 */
export interface SyncStatus {
  /** The state machine's state (docs/client.md#states). */
  state: SyncState;
  /** A stream is open. */
  connected: boolean;
  /** Getting a token or opening the stream (also while waiting to retry). */
  connecting: boolean;
  /** A checkpoint is being downloaded. */
  downloading: boolean;
  /** Local writes are being uploaded. */
  uploading: boolean;
  /** Local transactions not yet confirmed by a checkpoint (queued, uploading, or acknowledged). */
  pendingUploads: number;
  /** A checkpoint has been applied to this database, now or in an earlier session. */
  hasSynced: boolean;
  /** When the last checkpoint was applied (ms since the epoch). */
  lastSyncedAt: number | null;
  /** Progress of the checkpoint being downloaded; null when none is. */
  downloadProgress: DownloadProgress | null;
  /** This database's client_id (sent with the stream, uploads and write checkpoint requests). */
  clientId: string;
  /** The last applied checkpoint. */
  checkpoint: { lastOpId: string; writeCheckpoint: string | null } | null;
  storage: StorageKind;
  /** Why the database is in memory when persistence was wanted (it is lost on reload). */
  storageWarning: string | null;
  /** The last download error; cleared when a checkpoint is applied. */
  downloadError: SerializedError | null;
  /** The last upload error (the upload queue sets it). */
  uploadError: SerializedError | null;
  /** When the next connection attempt starts, while backing off (ms since the epoch). */
  nextRetryAt: number | null;
}

export function initialStatus(clientId: string, storage: StorageKind, storageWarning: string | null): SyncStatus {
  return {
    clientId,
    state: 'stopped',
    connected: false,
    connecting: false,
    downloading: false,
    uploading: false,
    pendingUploads: 0,
    hasSynced: false,
    lastSyncedAt: null,
    downloadProgress: null,
    checkpoint: null,
    storage,
    storageWarning,
    downloadError: null,
    uploadError: null,
    nextRetryAt: null,
  };
}
