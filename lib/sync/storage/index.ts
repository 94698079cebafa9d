/**
 * Bucket storage: ops, checkpoints, checksums, current rows, the parameter index, write
 * checkpoints and compaction, in their own database (SYNC_DATABASE_URL). docs/storage.md
 * describes the schema and the semantics; server code only (never imported by the browser).
 */
export { BucketStorage } from './bucket-storage';
export { migrateStorage, STORAGE_MIGRATIONS_DIR, type MigrateStorageResult } from './migrate';
export { commitBatch, commitPrepared, prepareCommit, startPrepared, CHECKPOINT_CHANNEL, type BatchCommit, type PreparedCommit, type PreviousCommit } from './commit-batch';
export { commitSnapshotChunk, SnapshotChunk, startSnapshotChunk, type ChunkCommit } from './snapshot-chunk';
export { compact, type CompactOptions, type CompactResult } from './compact';
export { bucketStates, checkpointState, checksumRange, latestCheckpoint, readOps } from './reads';
export { getCurrentRows, listCurrentRows, lookupParameters } from './rows';
export {
  bucketStatesAt,
  clientKey,
  lookupsChangedSince,
  writeCheckpointsAt,
  writeCheckpointsFor,
  type LookupValues,
} from './stream-reads';
export { readOpsPage, type OpRow, type OpsPage, type PageLimits } from './ops-pages';
export {
  activateRulesVersion,
  createRulesVersion,
  deleteRulesVersion,
  getLastLsn,
  getRulesVersion,
  listRulesVersions,
  retireRulesVersion,
  rulesVersionInState,
  setLastLsn,
  updateSnapshotProgress,
} from './rules-versions';
export { createWriteCheckpoint, writeCheckpointFor, WRITE_CHECKPOINT_HISTORY } from './write-checkpoints';
export { storageStats, type StorageStats } from './stats';
export { listenCheckpoints, parameterNoticesEnabled, parseCheckpointNotice, PARAMETER_CHANNEL, type CheckpointListener, type CheckpointNotice, type ListenCheckpointsOptions } from './listen';
export { StorageErrorCode } from './errors';
export { lsnToBigInt } from './sql';
export type * from './types';
