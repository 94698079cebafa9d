import type pg from 'pg';
import { addChecksums } from '@/lib/sync/protocol/checksum';
import { committedBefore, refusal, WRITE_BATCH } from './commit-batch';
import { BinaryCopyWriter } from './copy-binary';
import { StorageErrorCode, storageError } from './errors';
import { COPY_CURRENT_ROWS, COPY_OPS, copyIn, CurrentRowsCopy, OpsCopy } from './copy-rows';
import { int8, withTransaction } from './sql';
import type { CommitResult, CurrentRowUpsert, ParameterUpsert, SnapshotProgress } from './types';

const NO_OPS = [null, null, null, null, null, null];
const NOTHING_ELSE = Array<null>(15).fill(null);
const COPY_PARAMETERS = 'COPY lockstep.parameter_index (rules_id, lookup, source_table, source_row_id, parameter_values) FROM STDIN (FORMAT binary)';

/**
 * One chunk of a table's initial snapshot, encoded for COPY as it is built: PUT ops, current rows
 * and parameter entries of source rows that bucket storage has never seen. Hand it to
 * commitSnapshotChunk. Building it does no I/O, so the replicator builds the next chunk while the
 * previous one commits.
 *
 * @example
 *   const chunk = new SnapshotChunk(rulesId);
 *   chunk.put('list["1"]', 'todos', 'a', '{"id":"a"}');
 *   chunk.currentRow({ table: 'public.todos', rowId: 'a', buckets: ['todos\u001flist["1"]'], values: {}, valuesHash: 'h' });
 *   await commitSnapshotChunk(pool, chunk, progress);
 */
export class SnapshotChunk {
  private readonly ops: OpsCopy;
  private readonly rows: CurrentRowsCopy;
  private readonly parameters = new BinaryCopyWriter();
  /** Per bucket: position (1-based) of its last op in the chunk (as numbered by seal), sum and count of its ops. */
  private readonly buckets = new Map<string, { last: number; checksum: number; count: number }>();
  private sealed = false;

  constructor(readonly rulesId: number) {
    // Bucket by bucket, so that each bucket's ops lie together in the heap: a table read in key
    // order meets its buckets in no particular order, and ops in that order would leave a bucket's
    // ops one or two to a page among every other bucket's, for each read of the bucket to gather.
    this.ops = new OpsCopy(rulesId, { groupByBucket: true });
    this.rows = new CurrentRowsCopy(rulesId);
  }

  get opCount(): number {
    return this.ops.count;
  }

  get rowCount(): number {
    return this.rows.count;
  }

  /** A PUT op; ops get consecutive op ids in the order they are added. */
  put(bucket: string, table: string, rowId: string, data: string): void {
    this.assertOpen();
    if (bucket === '') throw storageError(StorageErrorCode.batchInvalid, `Invalid snapshot chunk: a PUT of ${table}/${rowId} has no bucket.`);
    const checksum = this.ops.add(bucket, 'PUT', table, rowId, data);
    const position = this.ops.count;
    const totals = this.buckets.get(bucket);
    if (totals) {
      totals.last = position;
      totals.checksum = addChecksums(totals.checksum, checksum);
      totals.count++;
    } else this.buckets.set(bucket, { last: position, checksum, count: 1 });
  }

  /** The stored state of a source row; each (table, row id) at most once, and never one storage already has. */
  currentRow(row: CurrentRowUpsert): void {
    this.assertOpen();
    this.rows.add(row);
  }

  /** A parameter-index entry of a source row; each (lookup, table, row id) at most once. */
  parameter(entry: ParameterUpsert): void {
    this.assertOpen();
    this.parameters.row(5).int4(this.rulesId).text(entry.lookup).text(entry.sourceTable).text(entry.sourceRowId).jsonb(JSON.stringify(entry.values));
  }

  /** @internal The encoded rows; the chunk takes no more after this. */
  seal(): {
    /** The ops numbered from `base` + 1, or null when there are none. */
    ops: ((base: number) => Buffer[]) | null;
    rows: Buffer[] | null;
    parameters: Buffer[] | null;
    buckets: SnapshotChunk['buckets'];
    /** The buffers may be reused: Postgres has consumed them. */
    recycle: () => void;
  } {
    this.assertOpen();
    this.sealed = true;
    // The ops are numbered bucket by bucket (OpsCopy groupByBucket), buckets in the order they
    // first appeared, which is this map's order: each bucket's last op is the running count.
    let position = 0;
    for (const totals of this.buckets.values()) totals.last = position += totals.count;
    return {
      ops: this.opCount > 0 ? (base) => this.ops.finish(base) : null,
      rows: this.rows.count > 0 ? this.rows.finish() : null,
      parameters: this.parameters.rowCount > 0 ? this.parameters.finish() : null,
      buckets: this.buckets,
      recycle: () => {
        this.ops.recycle();
        this.rows.recycle();
        this.parameters.recycle();
      },
    };
  }

  private assertOpen(): void {
    if (this.sealed) throw new Error('This snapshot chunk was already committed; start a new one.');
  }
}

/**
 * Commits a snapshot chunk in ONE storage transaction, with COPY: takes op ids from the version's
 * counter (so they follow commit order, as commitBatch's do), writes the ops, bucket totals,
 * current rows and parameter entries, and saves `snapshotProgress`, so the chunk and "this chunk
 * is done" commit together. No checkpoint, no LSN: a snapshot's ops become visible at the first
 * checkpoint streaming makes.
 *
 * The rows must be new to storage: a snapshot reads each table in key order and resumes after the
 * last key it committed, so no source row is stored twice. One that is fails the whole chunk
 * (a unique violation) rather than overwrite anything. `snapshotProgress` is read when this is
 * called, so the caller may go on changing it.
 */
export function commitSnapshotChunk(pool: pg.Pool, chunk: SnapshotChunk, snapshotProgress: SnapshotProgress): Promise<CommitResult> {
  return startSnapshotChunk(pool, chunk, snapshotProgress).done;
}

/** A chunk's commit under way (startSnapshotChunk). */
export interface ChunkCommit {
  /** The chunk's last op id, known as soon as its ops are numbered (before it commits). */
  readonly lastOpId: Promise<number>;
  /** The chunk holds the counter (until it commits): the next chunk may queue for it. */
  readonly counterTaken: Promise<void>;
  readonly done: Promise<CommitResult>;
}

/**
 * commitSnapshotChunk, overlapping the commit of the chunk before (`previous`, whose op ids this
 * chunk's follow): the snapshot is the only writer of a version being built, so the chunk's ops are
 * numbered from the previous chunk's last op id and written (with its current rows and parameters)
 * while that chunk still commits. Only then does it take the counter, whose row lock the previous
 * chunk holds until it commits, so chunks still commit one after the other, in order, each with its
 * progress. The chunk commits only if the one before committed (it waits for `previous.done`
 * before its COMMIT), and is rolled back when the counter is not where the numbering assumed
 * (anything else wrote): nothing is ever written with wrong op ids, nor in a failed chunk's place.
 */
export function startSnapshotChunk(pool: pg.Pool, chunk: SnapshotChunk, snapshotProgress: SnapshotProgress, previous?: ChunkCommit): ChunkCommit {
  const { rulesId } = chunk;
  const n = chunk.opCount;
  // Read now: the caller may move the progress on (planning its next chunk) while this one commits.
  const progress = JSON.stringify(snapshotProgress);
  const sealed = chunk.seal();
  let numbered!: (lastOpId: number) => void;
  let failed!: (error: unknown) => void;
  const lastOpId = new Promise<number>((resolve, reject) => {
    numbered = resolve;
    failed = reject;
  });
  lastOpId.catch(() => undefined); // surfaced by `done`
  let locked!: () => void;
  let lockFailed!: (error: unknown) => void;
  const counterTaken = new Promise<void>((resolve, reject) => {
    locked = resolve;
    lockFailed = reject;
  });
  counterTaken.catch(() => undefined); // surfaced by `done`
  const takeOpIds = async (client: pg.PoolClient) => {
    const { rows } = await client.query<{ refused: string | null; last_op_id: string | null }>({
      name: 'lockstep_snapshot_take_op_ids',
      text: 'SELECT refused, last_op_id FROM lockstep.take_op_ids($1, $2, NULL, $3)',
      values: [rulesId, n, progress],
    });
    const taken = rows[0]!;
    if (taken.refused !== null) throw refusal(rulesId, taken.refused, null, null);
    locked();
    return int8(taken.last_op_id);
  };
  const done = withTransaction(pool, async (client) => {
    let last: number;
    if (previous) {
      const base = await previous.lastOpId;
      numbered(base + n);
      if (sealed.ops) await copyIn(client, COPY_OPS, sealed.ops(base));
      if (sealed.rows) await copyIn(client, COPY_CURRENT_ROWS, sealed.rows);
      if (sealed.parameters) await copyIn(client, COPY_PARAMETERS, sealed.parameters);
      // Queued behind the previous chunk, which holds the counter's row lock until it commits.
      await previous.counterTaken;
      last = await takeOpIds(client);
      if (last !== base + n) {
        throw storageError(StorageErrorCode.rulesVersionState, `Snapshot chunk of rules version ${rulesId} numbered its ops after op id ${base}, but the counter moved to ${last - n}: another writer, or the chunk before failed. Rolled back; the snapshot resumes from its last committed chunk.`, { details: { rulesId, expected: base, found: last - n } });
      }
      // The op ids cannot tell when neither chunk has ops: commit only if the chunk before did.
      await committedBefore(rulesId, previous.done, `The snapshot chunk before this one in rules version ${rulesId} failed, so this one was rolled back; the snapshot resumes from its last committed chunk.`);
    } else {
      last = await takeOpIds(client);
      numbered(last);
      if (sealed.ops) await copyIn(client, COPY_OPS, sealed.ops(last - n));
      if (sealed.rows) await copyIn(client, COPY_CURRENT_ROWS, sealed.rows);
      if (sealed.parameters) await copyIn(client, COPY_PARAMETERS, sealed.parameters);
    }
    if (sealed.ops) {
      // Bucket totals as commitBatch writes them (write_batch), with nothing else.
      const totals = [...sealed.buckets.values()];
      const buckets = [[...sealed.buckets.keys()], totals.map((t) => t.last), totals.map((t) => t.checksum), totals.map((t) => t.count)].map((column) => JSON.stringify(column));
      await client.query({
        name: 'lockstep_write_batch',
        text: WRITE_BATCH,
        values: [rulesId, last, n, null, false, ...NO_OPS, ...buckets, ...NOTHING_ELSE],
      });
    }
    sealed.recycle();
    return { firstOpId: n > 0 ? last - n + 1 : null, lastOpId: last };
  });
  done.catch((error: unknown) => {
    failed(error);
    lockFailed(error);
  });
  return { lastOpId, counterTaken, done };
}
