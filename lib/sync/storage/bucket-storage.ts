import type pg from 'pg';
import { commitBatch } from './commit-batch';
import { compact, type CompactOptions, type CompactResult } from './compact';
import { bucketStates, checkpointState, checksumRange, latestCheckpoint, readOps } from './reads';
import * as rules from './rules-versions';
import { getCurrentRows, listCurrentRows, lookupParameters } from './rows';
import { storageStats, type StorageStats } from './stats';
import type { BucketState, Checkpoint, CommitBatch, CommitResult, CurrentRow, RulesVersion, SnapshotProgress, StoredOp } from './types';
import { createWriteCheckpoint, writeCheckpointFor } from './write-checkpoints';

/**
 * Bucket storage over a pool connected to SYNC_DATABASE_URL (migrated with migrateStorage).
 * Every method is one short query or transaction; the object holds no state but the pool, so
 * any number of processes may use the same storage at once.
 *
 * @example
 *   const storage = new BucketStorage(new pg.Pool({ connectionString: process.env.SYNC_DATABASE_URL }));
 *   const version = await storage.activeRulesVersion();
 */
export class BucketStorage {
  constructor(readonly pool: pg.Pool) {}

  // ── rules versions ────────────────────────────────────────────────────────────────────────

  /** Creates a version in state 'building'. Throws STORAGE_RULES_VERSION_CONFLICT if one is already building. */
  createRulesVersion(input: { versionHash: string; slotName: string }): Promise<RulesVersion> {
    return rules.createRulesVersion(this.pool, input);
  }
  /** A version by id, or null. */
  getRulesVersion(id: number): Promise<RulesVersion | null> {
    return rules.getRulesVersion(this.pool, id);
  }
  /** The version serving clients, or null before the first activation. */
  activeRulesVersion(): Promise<RulesVersion | null> {
    return rules.rulesVersionInState(this.pool, 'active');
  }
  /** The version being built next to the active one, or null. */
  buildingRulesVersion(): Promise<RulesVersion | null> {
    return rules.rulesVersionInState(this.pool, 'building');
  }
  /** Every version, oldest first. */
  listRulesVersions(): Promise<RulesVersion[]> {
    return rules.listRulesVersions(this.pool);
  }
  /** Makes the version active and retires the previously active one, atomically. */
  activateRulesVersion(id: number): Promise<RulesVersion> {
    return rules.activateRulesVersion(this.pool, id);
  }
  /** Marks the version retired; commitBatch refuses it from then on. */
  retireRulesVersion(id: number): Promise<void> {
    return rules.retireRulesVersion(this.pool, id);
  }
  /** Deletes a non-active version with all its ops, rows, parameters and checkpoints. Re-runnable. */
  deleteRulesVersion(id: number): Promise<void> {
    return rules.deleteRulesVersion(this.pool, id);
  }
  /** Saves snapshot progress outside a batch (commitBatch can also save it atomically with the batch). */
  updateSnapshotProgress(id: number, progress: SnapshotProgress): Promise<void> {
    return rules.updateSnapshotProgress(this.pool, id, progress);
  }
  /** The LSN the replicator resumes from. */
  getLastLsn(id: number): Promise<string | null> {
    return rules.getLastLsn(this.pool, id);
  }
  /** Sets the LSN outright (no monotonicity check). */
  setLastLsn(id: number, lsn: string): Promise<void> {
    return rules.setLastLsn(this.pool, id, lsn);
  }

  // ── writes ────────────────────────────────────────────────────────────────────────────────

  /** Commits a batch of ops, rows and parameters in one transaction; see commitBatch. */
  commitBatch(rulesId: number, batch: CommitBatch): Promise<CommitResult> {
    return commitBatch(this.pool, rulesId, batch);
  }
  /** Compacts buckets without changing their checksums; see compact. */
  compact(rulesId: number, options?: CompactOptions): Promise<CompactResult> {
    return compact(this.pool, rulesId, options);
  }

  // ── replicator reads ──────────────────────────────────────────────────────────────────────

  /** Stored buckets and values of some rows of a table. */
  getCurrentRows(rulesId: number, table: string, rowIds: string[]): Promise<Map<string, CurrentRow>> {
    return getCurrentRows(this.pool, rulesId, table, rowIds);
  }
  /** A page of a table's stored rows in row id order, after `afterRowId`. */
  listCurrentRows(rulesId: number, table: string, afterRowId: string | null, limit: number): Promise<Array<{ rowId: string } & CurrentRow>> {
    return listCurrentRows(this.pool, rulesId, table, afterRowId, limit);
  }

  // ── stream reads ──────────────────────────────────────────────────────────────────────────

  /** The newest checkpoint, or null. */
  latestCheckpoint(rulesId: number): Promise<Checkpoint | null> {
    return latestCheckpoint(this.pool, rulesId);
  }
  /** Bucket totals as of the latest committed batch (may run ahead of the latest checkpoint). */
  bucketStates(rulesId: number, buckets: string[]): Promise<Map<string, BucketState>> {
    return bucketStates(this.pool, rulesId, buckets);
  }
  /** The latest checkpoint with bucket totals exactly as of it, from one snapshot. */
  checkpointState(rulesId: number, buckets: string[]): Promise<{ checkpoint: Checkpoint | null; buckets: Map<string, BucketState> }> {
    return checkpointState(this.pool, rulesId, buckets);
  }
  /** A page of a bucket's ops in (afterOpId, upToOpId]. */
  readOps(rulesId: number, bucket: string, afterOpId: number, upToOpId: number, limit: number): Promise<StoredOp[]> {
    return readOps(this.pool, rulesId, bucket, afterOpId, upToOpId, limit);
  }
  /** Checksum and count of a bucket's ops in (afterOpId, upToOpId]; `cleared` when the range holds its CLEAR. */
  checksumRange(rulesId: number, bucket: string, afterOpId: number, upToOpId: number): Promise<{ checksum: number; count: number; cleared: boolean }> {
    return checksumRange(this.pool, rulesId, bucket, afterOpId, upToOpId);
  }
  /** Parameter tuples per lookup key. */
  lookupParameters(rulesId: number, lookups: string[]): Promise<Map<string, string[][]>> {
    return lookupParameters(this.pool, rulesId, lookups);
  }

  // ── write checkpoints and status ──────────────────────────────────────────────────────────

  /** Records a write checkpoint at source `lsn`; returns its id. */
  createWriteCheckpoint(userId: string, clientId: string, lsn: string): Promise<number> {
    return createWriteCheckpoint(this.pool, userId, clientId, lsn);
  }
  /** Highest write checkpoint id of the client with lsn <= uptoLsn, or null. */
  writeCheckpointFor(userId: string, clientId: string, uptoLsn: string): Promise<number | null> {
    return writeCheckpointFor(this.pool, userId, clientId, uptoLsn);
  }
  /** Op and bucket counts, last checkpoint and table sizes, for status output. */
  storageStats(rulesId: number): Promise<StorageStats> {
    return storageStats(this.pool, rulesId);
  }
}
