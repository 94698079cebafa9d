/**
 * The shapes bucket storage reads and writes. Op ids, counts and checksums are JS numbers: op ids
 * stay far below 2^53 and checksums are uint32 (0 .. 2^32-1).
 */
import type pg from 'pg';

/** Anything that runs a query: a pg.Pool, or a checked-out client inside a transaction. */
export type Queryable = Pick<pg.Pool, 'query'>;

export type RulesVersionState = 'building' | 'active' | 'retired';

/** Progress of the initial snapshot of one source table, saved after every chunk. */
export interface TableSnapshotProgress {
  /** The table has been read to its end. */
  done: boolean;
  /** Primary key values (as text, in key column order) of the last row read; null before the first chunk. */
  lastKey: string[] | null;
  /** Rows read so far, for status output. */
  rows: number;
}

/** Snapshot progress of a rules version: the snapshot is resumable from here after a crash. */
export interface SnapshotProgress {
  /** Every table is done and streaming may start. */
  complete: boolean;
  /** Keyed by the source table's qualified name, e.g. "public.todos". */
  tables: Record<string, TableSnapshotProgress>;
}

export interface RulesVersion {
  id: number;
  versionHash: string;
  state: RulesVersionState;
  slotName: string;
  snapshotProgress: SnapshotProgress;
  /** The source LSN of the last batch committed (the replicator resumes from here); null before any. */
  lastLsn: string | null;
  /** The highest op id handed out so far; 0 before any op. */
  lastOpId: number;
  createdAt: Date;
  activatedAt: Date | null;
  retiredAt: Date | null;
}

/** An op as the replicator writes it. MOVE and CLEAR are made only by compaction. */
export interface BatchOp {
  bucket: string;
  op: 'PUT' | 'REMOVE';
  table: string;
  rowId: string;
  /** The row as JSON text for PUT (sent to clients verbatim); null for REMOVE. */
  data: string | null;
}

export interface CurrentRowUpsert {
  table: string;
  rowId: string;
  /** Every bucket the row is in now (may be empty: the row is kept for its values). */
  buckets: string[];
  /** The row's column values as text (null for SQL NULL); only some of them when `valuesHash` is set. */
  values: Record<string, string | null>;
  /**
   * Identifies the whole row when `values` holds only part of it: the replicator keeps just the
   * values pgoutput may omit (long ones, for TOAST) and compares hashes to spot a change that
   * storage already reflects. Opaque to storage.
   */
  valuesHash?: string;
}

export interface RowKey {
  table: string;
  rowId: string;
}

/** One source row's contribution to a parameter lookup. */
export interface ParameterUpsert {
  lookup: string;
  sourceTable: string;
  sourceRowId: string;
  /** Parameter tuples this row yields for the lookup, e.g. [["list-1"]]. */
  values: string[][];
}

/**
 * Everything the replicator commits at once; applied in ONE storage transaction.
 * Within `currentRows` and within `parameters`, deletes are applied before upserts, so a row in
 * both lists ends up as upserted; a key upserted twice keeps its last entry.
 */
export interface CommitBatch {
  /** Ops in the order they happened; they receive consecutive op ids in this order. */
  ops: BatchOp[];
  /**
   * `deleteTables` drops every stored row of those tables (TRUNCATE). `insert` takes rows storage
   * does not hold (the replicator knows which rows it never stored): a large batch writes them
   * with COPY, without looking for a stored row first, and fails if one is there (a small batch
   * upserts them). A row both inserted and upserted is upserted.
   */
  currentRows?: { upsert?: CurrentRowUpsert[]; insert?: CurrentRowUpsert[]; delete?: RowKey[]; deleteTables?: string[] };
  /** `delete` removes every entry of that source row, whatever its lookup; `deleteTables` every entry of those source tables. */
  parameters?: { upsert?: ParameterUpsert[]; delete?: Array<{ sourceTable: string; sourceRowId: string }>; deleteTables?: string[] };
  /** Source commit LSN this batch reaches; stored as the version's last LSN. Must not go backwards. */
  lsn?: string;
  /**
   * True at a source transaction boundary: records a checkpoint at the batch's last op id (the
   * version's last op id when the batch has no ops) and sends NOTIFY lockstep_checkpoint.
   */
  checkpoint: boolean;
  snapshotProgress?: SnapshotProgress;
}

export interface Checkpoint {
  opId: number;
  lsn: string | null;
}

export interface CommitResult {
  /** Op id of the batch's first op; null when the batch had no ops. */
  firstOpId: number | null;
  /** The version's last op id after this batch (the batch's last op, if it had any). */
  lastOpId: number;
  /** The checkpoint recorded, when `checkpoint` was true. */
  checkpoint?: Checkpoint;
}

/** An op as stored and sent to clients. */
export interface StoredOp {
  opId: number;
  op: 'PUT' | 'REMOVE' | 'MOVE' | 'CLEAR';
  /** Null for MOVE and CLEAR. */
  table: string | null;
  rowId: string | null;
  data: string | null;
  checksum: number;
}

export interface BucketState {
  /** Sum of the checksums of the bucket's ops, mod 2^32; compaction never changes it. */
  checksum: number;
  /** Number of ops stored for the bucket (compaction lowers it); for progress, not for validation. */
  count: number;
  /** Highest op id in the bucket. */
  lastOpId: number;
  /** The checkpoint op id the latest compaction of the bucket used as its bound (0: never compacted). */
  compactedOpId: number;
}

export interface CurrentRow {
  buckets: string[];
  values: Record<string, string | null>;
  /** Set when the row was stored with a hash (see CurrentRowUpsert); `values` is then partial. */
  valuesHash?: string;
}
