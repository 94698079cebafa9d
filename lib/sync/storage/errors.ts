import { StorageError } from '@/lib/sync/errors';

/**
 * Stable codes of the errors bucket storage throws (all `StorageError`, category 'replication').
 * Check `error.code`, not the message: messages may improve, codes do not change.
 */
export const StorageErrorCode = {
  /** A migration file already applied has been edited; migrations are append-only. */
  migrationChanged: 'STORAGE_MIGRATION_CHANGED',
  /** A migration failed to apply; nothing of it was kept (each runs in a transaction). */
  migrationFailed: 'STORAGE_MIGRATION_FAILED',
  /** No rules version has this id (deleted, or never created). */
  rulesVersionNotFound: 'STORAGE_RULES_VERSION_NOT_FOUND',
  /** The rules version is in the wrong state for this call (e.g. writing to a retired one). */
  rulesVersionState: 'STORAGE_RULES_VERSION_STATE',
  /** Another rules version is already being built; retire it before creating a new one. */
  rulesVersionConflict: 'STORAGE_RULES_VERSION_CONFLICT',
  /** A batch passed to commitBatch is malformed (unknown op, PUT without data, ...). */
  batchInvalid: 'STORAGE_BATCH_INVALID',
  /** A batch's LSN is lower than the LSN already committed for the rules version. */
  lsnRegression: 'STORAGE_LSN_REGRESSION',
  /** A string is not a Postgres LSN such as '0/16B3748'. */
  lsnInvalid: 'STORAGE_LSN_INVALID',
  /** Another process is compacting this rules version right now. */
  compactionBusy: 'STORAGE_COMPACTION_BUSY',
} as const;

export type StorageErrorCode = (typeof StorageErrorCode)[keyof typeof StorageErrorCode];

/** Builds a StorageError with one of the codes above. */
export function storageError(code: StorageErrorCode, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }): StorageError {
  return new StorageError(code, message, options);
}
